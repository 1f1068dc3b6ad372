import { useEffect, useRef } from "react";
import uPlot, { type AlignedData, type Options } from "uplot";
import "uplot/dist/uPlot.min.css";

/** One line of a chart: its name, values (null: a gap) and colour. */
export interface ChartSeries {
  label: string;
  values: (number | null)[];
  color: string;
  /** Drawn dashed (a secondary line: errors, p99). */
  dash?: boolean;
}

/** The points drawn as dots: those with no neighbour, which a line alone would not show (one busy step in an idle hour). */
const isolated = (u: uPlot, seriesIdx: number): number[] => {
  const ys = u.data[seriesIdx] ?? [];
  const out: number[] = [];
  for (let i = 0; i < ys.length; i++) if (ys[i] != null && ys[i - 1] == null && ys[i + 1] == null) out.push(i);
  return out;
};

/**
 * A time chart drawn with uPlot (a small, dependency-free canvas library, ~50 kB). Loaded lazily
 * with the metrics section (time-chart-panel.tsx), like React Flow. The canvas is hidden from
 * assistive technology: the caller gives the chart a label that says what it shows, and the
 * figures in words beside it.
 */
export function TimeChart({ times, series, format, height = 160 }: { times: number[]; series: ChartSeries[]; format: (v: number) => string; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  const data: AlignedData = [times, ...series.map((s) => s.values)];
  const shape = series.map((s) => `${s.label}/${s.color}/${s.dash ? 1 : 0}`).join("|");

  // A new chart when the set of lines changes; new data only otherwise (uPlot keeps its canvas).
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: Options = {
      width: Math.max(240, el.clientWidth), height,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min ?? 0), Math.max(1e-9, (max ?? 1) * 1.1)] } },
      axes: [
        { stroke: "#5a6376", grid: { stroke: "#e3e6ee" }, ticks: { stroke: "#e3e6ee" } },
        { stroke: "#5a6376", grid: { stroke: "#e3e6ee" }, ticks: { stroke: "#e3e6ee" }, size: 64, values: (_u, ticks) => ticks.map((t) => format(t)) },
      ],
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 1.5, spanGaps: false, points: { show: true, size: 5, fill: s.color, filter: isolated }, ...(s.dash ? { dash: [5, 4] } : {}), value: (_u: uPlot, v: number | null) => (v === null ? "–" : format(v)) }))],
    };
    plot.current = new uPlot(opts, data, el);
    el.querySelector("canvas")?.setAttribute("aria-hidden", "true");
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(240, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [shape, height]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [times, series]);

  return <div ref={box} className="time-chart" />;
}
