// Each command registers itself; this file only imports them.
export {};
