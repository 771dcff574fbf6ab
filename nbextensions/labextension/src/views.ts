// What the front end reads from GET /cygnet/api/views.

export interface ViewListing {
  name: string;
  usable: boolean;
  base?: string; // a custom environment's base view; empty for the site's stacks
}

/** The views a terminal can be opened in: the usable ones, the site's stacks before custom environments. */
export function terminalViews(views: ViewListing[]): string[] {
  const usable = views.filter(v => v.usable);
  return [...usable.filter(v => !v.base), ...usable.filter(v => v.base)].map(v => v.name);
}
