// Localises the schedule engine's "why" (GET /displays/{id}/now, the
// warnings of a schedule save). The engine writes it in a small set of
// fixed English forms (playlists/plan.go, compile.go, evaluate.go); each
// is matched here and said in the reader's language, with schedules by
// name. A form this file does not know is shown as the engine wrote it,
// marked as English.
import { t, fmtNumber } from './i18n.js';

const forms = [
  [/^outside operating hours$/, () => t('why.outsideHours')],
  [/^nothing scheduled$/, () => t('why.nothing')],
  [/^default content \(no schedule applies\)$/, () => t('why.default')],
  [/^schedule (\S+) \(priority (-?\d+), all day\)$/, (m, name) => t('why.scheduleAllDay', { name: name(m[1]), priority: fmtNumber(Number(m[2])) })],
  [/^schedule (\S+) \(priority (-?\d+), windows? (.+)\)$/, (m, name) => t('why.scheduleWindows', { name: name(m[1]), priority: fmtNumber(Number(m[2])), windows: m[3] })],
  [/^schedules (.+) merged \(equal priority (-?\d+)\)$/, (m, name) => t('why.merged', { names: m[1].split(', ').map(name).join(', '), priority: fmtNumber(Number(m[2])) })],
  [/^interrupt (\S+) \((\d+) s per hour\)$/, (m, name) => t('why.interrupt', { name: name(m[1]), seconds: fmtNumber(Number(m[2])) })],
];

// whyText returns { text, lang }: lang is 'en' when the form was not
// recognised and the engine's own words are shown.
export function whyText(why, name = (id) => id) {
  const s = String(why || '').trim();
  if (!s) return { text: '', lang: '' };
  for (const [re, say] of forms) {
    const m = re.exec(s);
    if (m) return { text: say(m, name), lang: '' };
  }
  return { text: s, lang: 'en' };
}
