// Charts of a load-suite result: throughput per target, latency percentiles per target, throughput and p99 vs workers.
// Writes only into the charts directory it is given, and only SVG files named after the suite.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { SuiteResults, SummaryRow } from '../suites/harness/suite-types.ts';
import { barChart, lineChart } from './svg-chart.ts';

const percentiles = [
  ['p50', 'p50'],
  ['p75', 'p75'],
  ['p90', 'p90'],
  ['p99', 'p99'],
  ['p999', 'p99.9'],
  ['p9999', 'p99.99'],
  ['max', 'max'],
] as const;

function targetsOf(rows: readonly SummaryRow[]): string[] {
  return [...new Set(rows.map((r) => r.target))];
}

/** Grouped bars: median ops/s of every target in every scenario. */
export function throughputChart(results: SuiteResults): string {
  const scenarios = results.scenarios.map((s) => s.id);
  const targets = targetsOf(results.summary);
  return barChart({
    title: `${results.suite}: throughput per scenario (median of ${results.options.rounds} rounds)`,
    yLabel: 'requests/s',
    logY: true,
    categories: scenarios,
    series: targets.map((t) => ({
      name: t,
      values: scenarios.map((s) => results.summary.find((r) => r.scenario === s && r.target === t)?.opsPerSec ?? null),
    })),
  });
}

/** Lines: each target's latency at p50 ... max for one scenario. */
export function latencyChart(results: SuiteResults, scenario: string): string {
  const rows = results.summary.filter((r) => r.scenario === scenario);
  return lineChart({
    title: `${results.suite}: latency percentiles, ${scenario}`,
    yLabel: 'latency µs',
    xLabel: 'percentile (median over rounds)',
    logY: true,
    categories: percentiles.map(([, label]) => label),
    series: rows.map((r) => ({ name: r.target, values: percentiles.map(([key]) => r.latencyUs[key]) })),
  });
}

export interface SweepPoint {
  workers: number;
  pipeline: number;
  opsPerSec: number;
  p99Us: number;
}

export function sweepCharts(points: readonly SweepPoint[]): { throughput: string; p99: string } {
  const workers = [...new Set(points.map((p) => p.workers))].sort((a, b) => a - b);
  const pipelines = [...new Set(points.map((p) => p.pipeline))].sort((a, b) => a - b);
  const series = (pick: (p: SweepPoint) => number) =>
    pipelines.map((pl) => ({
      name: `pipeline ${pl}`,
      values: workers.map((w) => {
        const p = points.find((q) => q.workers === w && q.pipeline === pl);
        return p === undefined ? null : pick(p);
      }),
    }));
  return {
    throughput: lineChart({
      title: 'dynoproxy: throughput vs data workers (GET 64 B, 50 connections)',
      yLabel: 'requests/s',
      xLabel: 'data workers',
      logY: true,
      categories: workers.map(String),
      series: series((p) => p.opsPerSec),
    }),
    p99: lineChart({
      title: 'dynoproxy: p99 latency vs data workers',
      yLabel: 'p99 µs',
      xLabel: 'data workers',
      logY: true,
      categories: workers.map(String),
      series: series((p) => p.p99Us),
    }),
  };
}

/** Writes charts as `<suite>-<name>.svg` into dir; returns their paths relative to `root`. */
export function writeCharts(dir: string, root: string, suite: string, charts: Record<string, string>): string[] {
  mkdirSync(dir, { recursive: true });
  return Object.entries(charts).map(([name, svg]) => {
    const path = join(dir, `${suite}-${name}.svg`);
    writeFileSync(path, svg);
    return relative(root, path);
  });
}
