// The console's entry point. The page list is the router: one line per
// page, { route, load }. `route` is the first part of the hash (#/route/…);
// `load` imports pages/<route>.js (see docs/console.md for the contract).
import { start } from './lib/shell.js';

export const pages = [
  { route: 'signin', load: () => import('./pages/signin.js'), public: true },
  { route: 'home', load: () => import('./pages/home.js') },
  // Library, playlists, layouts:
  { route: 'library', load: () => import('./pages/library.js') },
  { route: 'playlists', load: () => import('./pages/playlists.js') },
  { route: 'layouts', load: () => import('./pages/layouts.js') },

  // Schedules, emergency:
  { route: 'schedules', load: () => import('./pages/schedules.js') },
  { route: 'emergency', load: () => import('./pages/emergency.js') },

  // Displays, clusters, people:
  { route: 'displays', load: () => import('./pages/displays.js') },
  { route: 'clusters', load: () => import('./pages/clusters.js') },
  { route: 'people', load: () => import('./pages/people.js') },

];

start(pages);
