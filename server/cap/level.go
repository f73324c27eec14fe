package cap

// Level is Beacon's override level.
type Level string

const (
	LevelInfo     Level = "info"
	LevelWarning  Level = "warning"
	LevelCritical Level = "critical"
)

func (l Level) rank() int {
	switch l {
	case LevelCritical:
		return 2
	case LevelWarning:
		return 1
	}
	return 0
}

// LevelFor maps CAP severity, urgency and certainty to a level. The rules,
// first match wins (the same table is in docs/cap.md):
//
//	urgency Past, or certainty Unlikely             → info   (nothing to do now)
//	severity Extreme                                → critical
//	severity Severe, urgency Immediate,
//	  certainty Observed or Likely                  → critical
//	severity Severe (otherwise)                     → warning
//	severity Moderate, urgency Immediate, Expected
//	  or Future, certainty Observed or Likely       → warning
//	anything else (Moderate otherwise, Minor,
//	  Unknown)                                      → info
func LevelFor(severity, urgency, certainty string) Level {
	if urgency == "Past" || certainty == "Unlikely" {
		return LevelInfo
	}
	sure := certainty == "Observed" || certainty == "Likely"
	switch severity {
	case "Extreme":
		return LevelCritical
	case "Severe":
		if urgency == "Immediate" && sure {
			return LevelCritical
		}
		return LevelWarning
	case "Moderate":
		if sure && (urgency == "Immediate" || urgency == "Expected" || urgency == "Future") {
			return LevelWarning
		}
	}
	return LevelInfo
}

// Level is the info block's level.
func (in *Info) Level() Level { return LevelFor(in.Severity, in.Urgency, in.Certainty) }

// Level is the highest level of the alert's info blocks; info when it has
// none.
func (a *Alert) Level() Level {
	l := LevelInfo
	for i := range a.Info {
		if il := a.Info[i].Level(); il.rank() > l.rank() {
			l = il
		}
	}
	return l
}
