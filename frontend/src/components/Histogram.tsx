import { Box, Group, Paper, SegmentedControl, Skeleton, Text, useComputedColorScheme } from '@mantine/core'
import { useElementSize } from '@mantine/hooks'
import { useEffect, useMemo, useRef, useState } from 'react'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import type { HistogramBucketDTO, HistogramDTO } from '../api/types'
import { counted } from '../lib/count'
import { axisLabels, formatBucket, wallSeconds } from '../lib/time'
import { useResults, useStores, useView } from '../store/context'
import { rangeBounds } from '../store/view'
import { RISK_HEX, STATUS_HEX } from './EventChips'

const RISK_ORDER = ['low', 'medium', 'high']
const STATUS_ORDER = ['applied', 'pending', 'rolled_back', 'failed']

/**
 * A bucket's [start, end) in seconds. Its end is not always start +
 * bucketSeconds: a day's bucket is 23 or 25 hours long across a
 * daylight-saving change.
 */
export function bucketBounds(b: HistogramBucketDTO): [number, number] {
  return [Date.parse(b.start) / 1000, Date.parse(b.end) / 1000]
}

/** Builds uPlot data: x in seconds (each bucket's middle), then one cumulative series per key, top of the stack first. */
export function stackHistogram(h: HistogramDTO, by: 'risk' | 'status'): { keys: string[]; data: number[][] } {
  const order = by === 'risk' ? RISK_ORDER : STATUS_ORDER
  const xs = h.buckets.map((b) => {
    const [start, end] = bucketBounds(b)
    return (start + end) / 2
  })
  const cum: number[][] = order.map(() => new Array<number>(h.buckets.length).fill(0))
  h.buckets.forEach((b, i) => {
    const parts = by === 'risk' ? b.byRisk : (b.byStatus ?? {})
    let acc = 0
    order.forEach((k, j) => {
      acc += parts[k] ?? 0
      const row = cum[j]
      if (row) row[i] = acc
    })
  })
  return { keys: [...order].reverse(), data: [xs, ...cum.reverse()] }
}

/**
 * Where a bucket's bar goes, in x values (seconds): the whole span of the
 * bucket [start, end) clipped to the range shown, or undefined when none
 * of it is in the range. A bucket that starts before the range still has
 * events in it, and a bar drawn at its centre alone would sit at the wrong
 * second once zoomed in.
 */
export function bucketSpan([start, end]: [number, number], min: number, max: number): [number, number] | undefined {
  const from = Math.max(start, min)
  const to = Math.min(end, max)
  return to > from ? [from, to] : undefined
}

/** Bars that cover each bucket's time span (see bucketSpan), at least a pixel wide so no bucket with events is lost. */
function bucketBars(bounds: [number, number][]): uPlot.Series.PathBuilder {
  return (u, seriesIdx) => {
    const ys = u.data[seriesIdx] ?? []
    const { min = 0, max = 0 } = u.scales.x ?? {}
    const fill = new Path2D()
    const px = devicePixelRatio || 1
    const y0 = u.valToPos(0, 'y', true)
    for (let i = 0; i < bounds.length; i++) {
      const y = ys[i]
      const b = bounds[i]
      if (!y || !b) continue
      const span = bucketSpan(b, min, max)
      if (!span) continue
      const left = u.valToPos(span[0], 'x', true)
      const right = u.valToPos(span[1], 'x', true)
      // A gap of a pixel between neighbours where there is room for one.
      const w = right - left > 4 * px ? right - left - px : Math.max(right - left, px)
      const top = u.valToPos(y, 'y', true)
      fill.rect(Math.round(left), Math.round(top), Math.max(Math.round(w), px), Math.round(y0) - Math.round(top))
    }
    return { stroke: fill, fill }
  }
}

/**
 * The x-axis ticks for day and week bars: bar starts (seconds), every k-th
 * bar so that labels are at least minGap pixels apart, k counted from the
 * epoch on the clock the bars follow (wall: a start's reading on it, in
 * seconds) so that the ticks stay put as the range moves.
 */
export function bucketTicks(starts: number[], bucketSeconds: number, pxPerSecond: number, wall: (s: number) => number = (s) => s, minGap = 64): number[] {
  const k = Math.max(1, Math.ceil(minGap / (bucketSeconds * pxPerSecond)))
  return starts.filter((s) => Math.round(wall(s) / bucketSeconds) % k === 0)
}

// uPlot needs a canvas; jsdom has none.
const canDraw = typeof navigator !== 'undefined' && !/jsdom/i.test(navigator.userAgent)

/** Events over the range, stacked by risk or status; drag across it to zoom the time range. */
export function Histogram() {
  const histogram = useResults((s) => s.histogram)
  const loading = useResults((s) => s.histogramLoading)
  const failed = useResults((s) => s.error !== undefined && s.rows.length === 0)
  const stackBy = useView((s) => s.stackBy)
  const tz = useView((s) => s.tz)
  const range = useView((s) => s.range)
  const now = useView((s) => s.now)
  const { view } = useStores()
  const scheme = useComputedColorScheme('light')
  const { ref, width } = useElementSize()
  const plotRef = useRef<HTMLDivElement>(null)
  const [hover, setHover] = useState<{ i: number; left: number } | undefined>()
  const stacked = useMemo(() => (histogram ? stackHistogram(histogram, stackBy) : undefined), [histogram, stackBy])
  const bounds = rangeBounds(range, now)
  // Read when the plot is (re)built, which happens when new data arrives: a
  // filter change must not rebuild the old plot on its way to the new one.
  const boundsRef = useRef(bounds)
  boundsRef.current = bounds

  useEffect(() => {
    const el = plotRef.current
    if (!el || !stacked || !canDraw || width < 50) return
    const colors = stackBy === 'risk' ? RISK_HEX : STATUS_HEX
    const axisColor = scheme === 'dark' ? '#909296' : '#868e96'
    const gridColor = scheme === 'dark' ? 'rgba(255,255,255,0.06)' : 'rgba(0,0,0,0.06)'
    const bucketSeconds = histogram?.bucketSeconds ?? 60
    const bounds = (histogram?.buckets ?? []).map((b) => bucketBounds(b))
    const bucketStarts = bounds.map(([start]) => start)
    const bars = bucketBars(bounds)
    const opts: uPlot.Options = {
      width,
      height: 120,
      padding: [8, 8, 0, 0],
      legend: { show: false },
      tzDate: tz === 'utc' ? (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC') : undefined,
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false }, y: false },
      select: { show: true, left: 0, top: 0, width: 0, height: 0 },
      scales: {
        x: { time: true, range: () => [boundsRef.current.since / 1000, (boundsRef.current.until ?? Date.now()) / 1000] },
        y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.08] },
      },
      axes: [
        {
          stroke: axisColor, grid: { show: false }, ticks: { stroke: gridColor }, font: '11px system-ui', size: 24,
          values: (_u, splits, _axis, _space, incr) => axisLabels(splits.map((s) => s * 1000), incr * 1000, tz),
          // Day and week bars: the labels at bar edges, not at uPlot's own
          // steps (five-day labels under week bars).
          ...(bucketSeconds >= 86_400 && {
            splits: (_u: uPlot, _i: number, min: number, max: number) => {
              const pxPerSecond = (width - 52) / Math.max(1, max - min)
              // A label centred on a tick this close to an edge would be cut.
              const margin = 24 / pxPerSecond
              return bucketTicks(bucketStarts.filter((s) => s >= min + margin && s <= max - margin), bucketSeconds, pxPerSecond, (s) => wallSeconds(s, tz))
            },
            values: (_u: uPlot, splits: number[]) => axisLabels(splits.map((s) => s * 1000), bucketSeconds * 1000, tz),
          }),
        },
        { stroke: axisColor, grid: { stroke: gridColor }, ticks: { show: false }, font: '11px system-ui', size: 44, values: (_u, v) => v.map((x) => (x >= 1000 ? `${Math.round(x / 100) / 10}k` : String(x))) },
      ],
      series: [{}, ...stacked.keys.map((k) => ({ label: k, fill: colors[k] ?? '#888', stroke: colors[k] ?? '#888', width: 0, paths: bars, points: { show: false } }))],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 3) return
            const from = u.posToVal(u.select.left, 'x') * 1000
            const to = u.posToVal(u.select.left + u.select.width, 'x') * 1000
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false)
            view.getState().set({ range: { kind: 'absolute', from: new Date(Math.floor(from)).toISOString(), to: new Date(Math.ceil(to)).toISOString() } })
          },
        ],
        setCursor: [
          (u) => {
            const i = u.cursor.idx
            setHover(i === null || i === undefined ? undefined : { i, left: u.cursor.left ?? 0 })
          },
        ],
      },
    }
    const plot = new uPlot(opts, stacked.data as uPlot.AlignedData, el)
    return () => plot.destroy()
  }, [stacked, width, scheme, tz, stackBy, view, histogram?.bucketSeconds, histogram?.buckets])

  const bucket = hover && histogram?.buckets[hover.i]
  const keys = stackBy === 'risk' ? RISK_ORDER : STATUS_ORDER
  const colors = stackBy === 'risk' ? RISK_HEX : STATUS_HEX
  return (
    <Paper withBorder radius="md" p="xs" pb={4} data-testid="histogram">
      <Group justify="space-between" mb={2} px={4} wrap="nowrap">
        <Group gap="md" wrap="nowrap">
          <Text size="sm" fw={600}>
            Activity
          </Text>
          {keys.map((k) => (
            <Group key={k} gap={4} wrap="nowrap">
              <Box w={9} h={9} style={{ borderRadius: 2, background: colors[k] }} />
              {/* As the sidebar and the query language name it (status:rolled_back). */}
              <Text size="xs" c="dimmed">
                {k}
              </Text>
            </Group>
          ))}
        </Group>
        <Group gap="sm" wrap="nowrap">
          <Text size="xs" c="dimmed" visibleFrom="md" data-testid={bucket ? 'histogram-bucket' : undefined}>
            {bucket && histogram
              ? `${formatBucket(Date.parse(bucket.start), Date.parse(bucket.end), histogram.bucketSeconds, tz)} · ${counted(bucket.count, 'event')}`
              : 'Drag across the chart to zoom'}
          </Text>
          <SegmentedControl
            size="xs"
            value={stackBy}
            onChange={(v) => view.getState().set({ stackBy: v as 'risk' | 'status' }, 'replace')}
            data={[
              { label: 'Risk', value: 'risk' },
              { label: 'Status', value: 'status' },
            ]}
            aria-label="Stack the histogram by"
          />
        </Group>
      </Group>
      <div ref={ref} style={{ position: 'relative', height: 120 }}>
        {failed ? (
          <Text size="sm" c="dimmed" ta="center" pt={44}>
            No counts while the log cannot be read.
          </Text>
        ) : !stacked && (loading || !histogram) ? <Skeleton h={112} mt={4} /> : <div ref={plotRef} data-testid="histogram-plot" aria-label="Events over time; drag to zoom" role="img" />}
      </div>
    </Paper>
  )
}
