/** The few line icons the UI uses, inline (no icon font, no requests). Decorative: always aria-hidden. */
const PATHS = {
  deploy: "M5 19l4-4m-2-6l8-4 4 4-4 8-3 3-4-4 3-3m-6 6l-2 2M9 9l6 6",
  copy: "M9 9h10v10H9zM5 15V5h10",
  check: "M5 12l5 5L20 7",
  plus: "M12 5v14M5 12h14",
  chevron: "M9 6l6 6-6 6",
  lock: "M7 11V8a5 5 0 0110 0v3M6 11h12v9H6z",
  logout: "M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10",
  library: "M4 5h6v14H4zM14 5l5 1-3 14-5-1z",
  estate: "M4 20V9l8-5 8 5v11M9 20v-6h6v6",
  back: "M15 6l-6 6 6 6",
  upload: "M12 16V4m-5 5l5-5 5 5M5 20h14",
  trash: "M5 7h14M10 7V4h4v3M7 7l1 13h8l1-13",
  alert: "M12 8v5m0 3v.5M10.3 4l-8 14a2 2 0 001.7 3h16a2 2 0 001.7-3l-8-14a2 2 0 00-3.4 0z",
} as const;

export type IconName = keyof typeof PATHS;

export function Icon({ name, size = 16 }: { name: IconName; size?: number }) {
  return (
    <svg className="icon" width={size} height={size} viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round" aria-hidden="true" focusable="false">
      <path d={PATHS[name]} />
    </svg>
  );
}
