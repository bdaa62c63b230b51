import { act, fireEvent, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'
import { moveSelection } from '../keyboard'
import { makeEvent, renderWith, sampleEvents, setup } from '../test/render'
import { viewQuery } from '../store/view'
import { parseQuery } from '../query/parse'
import { FacetSidebar } from './FacetSidebar'
import { QueryBar } from './QueryBar'
import { diffStates, StateDiff } from './StateDiff'
import { TimelineRow } from './TimelineRow'
import { MantineProvider } from '@mantine/core'
import { render } from '@testing-library/react'
import { theme } from '../theme'

async function loaded(s: ReturnType<typeof setup>) {
  await act(() => s.stores.results.getState().load(viewQuery(s.stores.view.getState(), s.stores.view.getState().now)))
}

describe('QueryBar', () => {
  it('applies the query on Enter and puts it in the URL', async () => {
    const s = setup()
    renderWith(s.stores, <QueryBar />)
    const input = screen.getByTestId('query-input')
    await userEvent.type(input, 'risk:high{Escape}')
    await userEvent.type(input, '{Enter}')
    expect(s.stores.view.getState().q).toBe('risk:high')
    expect(s.mem.loc.search).toContain('q=risk%3Ahigh')
  })

  it('shows a syntax error inline, at its place, and does not apply it', async () => {
    const s = setup()
    renderWith(s.stores, <QueryBar />)
    const input = screen.getByTestId('query-input')
    await userEvent.type(input, 'status:done bucket{Enter}')
    const err = await screen.findByTestId('query-error')
    expect(err).toHaveTextContent('Unknown status "done"')
    expect(within(err).getByText('status:done').tagName).toBe('MARK')
    expect(input).toHaveAttribute('aria-invalid', 'true')
    expect(s.stores.view.getState().q).toBe('')
  })

  it('autocompletes fields and then values', async () => {
    const s = setup()
    await loaded(s)
    renderWith(s.stores, <QueryBar />)
    const input = screen.getByTestId('query-input') as HTMLInputElement
    await userEvent.type(input, 'prov')
    const opt = await screen.findByRole('option', { name: /provider:/ })
    fireEvent.click(opt)
    await waitFor(() => expect(input.value).toBe('provider:'))
    const values = await screen.findAllByTestId('query-suggestion')
    expect(values.map((v) => v.textContent)).toEqual(expect.arrayContaining([expect.stringContaining('provider:aws')]))
  })

  it('lets Tab move focus on without changing the draft', async () => {
    const s = setup()
    await loaded(s)
    renderWith(s.stores, <><QueryBar /><button>next</button></>)
    const input = screen.getByTestId('query-input') as HTMLInputElement
    await userEvent.click(input)
    expect(await screen.findAllByTestId('query-suggestion')).not.toHaveLength(0)
    await userEvent.tab()
    expect(screen.getByRole('button', { name: 'next' })).toHaveFocus()
    expect(input.value).toBe('')

    // Nor does tabbing away from a half-typed word complete it.
    await userEvent.click(input)
    await userEvent.type(input, 'risk:hi')
    await userEvent.tab()
    expect(screen.getByRole('button', { name: 'next' })).toHaveFocus()
    expect(input.value).toBe('risk:hi')
  })

  it('completes with Tab once the user has moved into the suggestions', async () => {
    const s = setup()
    await loaded(s)
    renderWith(s.stores, <><QueryBar /><button>next</button></>)
    const input = screen.getByTestId('query-input') as HTMLInputElement
    await userEvent.type(input, 'prov')
    await screen.findByRole('option', { name: /provider:/ })
    await userEvent.keyboard('{ArrowDown}{Tab}')
    await waitFor(() => expect(input.value).toBe('provider:'))
    expect(input).toHaveFocus()
    // Accepting leaves the list: the next Tab moves on rather than completing again.
    await userEvent.tab()
    expect(screen.getByRole('button', { name: 'next' })).toHaveFocus()
    expect(input.value).toBe('provider:')
  })
})

describe('FacetSidebar', () => {
  it('shows counts and filters for a value on click, out with Alt-click', async () => {
    const s = setup()
    await loaded(s)
    renderWith(s.stores, <FacetSidebar />)
    const failed = screen.getByTestId('facet-value-status-failed')
    expect(failed).toHaveTextContent('failed1')
    fireEvent.click(failed)
    expect(s.stores.view.getState().q).toBe('status:failed')
    fireEvent.click(screen.getByTestId('facet-value-provider-gcp'), { altKey: true })
    expect(s.stores.view.getState().q).toBe('-provider:gcp status:failed')
    // clicking an included value again removes it
    fireEvent.click(screen.getByTestId('facet-value-status-failed'))
    expect(s.stores.view.getState().q).toBe('-provider:gcp')
  })

  it('lists the other values of a field the query filters, and always the values it filters by', async () => {
    const s = setup()
    act(() => s.stores.view.getState().set({ q: 'provider:aws -status:failed' }))
    await loaded(s)
    renderWith(s.stores, <FacetSidebar />)
    await waitFor(() => expect(screen.getByTestId('facet-value-provider-aws')).toHaveAttribute('aria-pressed', 'true'))
    // Each field is counted without the query's own conditions on it.
    // Another value of a field filtered for shows what it would add.
    const gcp = screen.getByTestId('facet-value-provider-gcp')
    expect(gcp).toHaveAttribute('aria-pressed', 'false')
    expect(gcp).toHaveAttribute('aria-label', expect.stringMatching(/^provider gcp: adds [1-9][\d,]* events?$/))
    expect(gcp.textContent).toMatch(/^gcp\+[1-9]/)
    expect(screen.getByTestId('facet-value-provider-aws').textContent).toMatch(/^aws[1-9]/)
    expect(screen.getByTestId('facet-value-status-failed')).toHaveAttribute('aria-label', expect.stringMatching(/^status failed: [1-9][\d,]* events?, filtered out$/))
    expect(screen.getByTestId('facet-value-status-applied').textContent).toMatch(/^applied[1-9]/)
    // Adding a second provider keeps the first.
    fireEvent.click(screen.getByTestId('facet-value-provider-gcp'))
    expect(s.stores.view.getState().q).toBe('provider:aws provider:gcp -status:failed')
    // A value filtered for that has no event in range is listed, so that it can be undone.
    act(() => s.stores.view.getState().set({ q: 'user:nobody@acme.io' }))
    await loaded(s)
    await waitFor(() => expect(screen.getByTestId('facet-value-user-nobody@acme.io')).toHaveTextContent('nobody@acme.io0'))
    // Nothing matches: the sidebar says so once, lists that value first
    // in its field, and leaves out the fields with nothing to show.
    expect(screen.getByTestId('facets-empty')).toHaveTextContent('No events match this filter')
    expect(screen.queryByText('none in range')).toBeNull()
    expect(screen.queryByTestId('facet-category')).toBeNull()
    expect(within(screen.getByTestId('facet-userId')).getAllByRole('button', { pressed: true })[0]).toBe(screen.getByTestId('facet-value-user-nobody@acme.io'))
    expect(within(screen.getByTestId('facet-userId')).getAllByRole('button')[0]).toBe(screen.getByTestId('facet-value-user-nobody@acme.io'))
    fireEvent.click(screen.getByTestId('facet-value-user-nobody@acme.io'))
    expect(s.stores.view.getState().q).toBe('')
  })

  it('says "none in range" under a field without values when other events match', async () => {
    const s = setup()
    await loaded(s)
    const facets = s.stores.results.getState().facets!
    act(() => s.stores.results.setState({ facets: { ...facets, userId: [] } }))
    renderWith(s.stores, <FacetSidebar />)
    expect(within(screen.getByTestId('facet-userId')).getByText('none in range')).toBeInTheDocument()
    expect(screen.queryByTestId('facets-empty')).toBeNull()
  })

  it('does not say nothing matches for a query still loading', async () => {
    const s = setup()
    await loaded(s)
    const facets = s.stores.results.getState().facets!
    // The last query found nothing; the next one is loading.
    act(() => s.stores.results.setState({ facets: Object.fromEntries(Object.keys(facets).map((k) => [k, []])), rows: [], loading: true }))
    renderWith(s.stores, <FacetSidebar />)
    expect(screen.queryByText('none in range')).toBeNull()
    expect(screen.queryByTestId('facets-empty')).toBeNull()
    act(() => s.stores.results.setState({ loading: false }))
    expect(screen.getByTestId('facets-empty')).toHaveTextContent('No events in this time range')
    expect(screen.queryByText('none in range')).toBeNull()
  })

  it('does not say nothing matches when the page has come and the facets have not', async () => {
    const s = setup()
    act(() => s.stores.view.getState().set({ q: 'user:nobody@acme.io' }))
    await loaded(s)
    renderWith(s.stores, <FacetSidebar />)
    expect(screen.getByTestId('facets-empty')).toBeInTheDocument()
    // The next query's first page comes first; its facets (a scan of the
    // whole range) take longer, as they do on a large log.
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const facets = s.api.facets.bind(s.api)
    s.api.facets = async (q, signal) => {
      await gate
      return facets(q, signal)
    }
    act(() => s.stores.view.getState().set({ q: '' }))
    await loaded(s)
    expect(s.stores.results.getState().rows.length).toBeGreaterThan(0)
    expect(screen.queryByText('none in range')).toBeNull()
    expect(screen.queryByTestId('facets-empty')).toBeNull()
    await act(async () => release())
    await waitFor(() => expect(screen.getByTestId('facet-value-provider-aws')).toBeInTheDocument())
  })

  it('says new events are waiting, not "none in range", when the query has no rows yet but live events are held', async () => {
    const s = setup()
    act(() => s.stores.view.getState().set({ q: 'user:nobody@acme.io' }))
    await loaded(s)
    renderWith(s.stores, <FacetSidebar />)
    expect(screen.getByTestId('facets-empty')).toBeInTheDocument()
    // Paused, two events of nobody@acme.io arrive: they match, and wait
    // above the timeline to be shown.
    act(() => s.stores.results.getState().setPaused(true))
    act(() => s.stores.results.getState().receive(makeEvent(900, { userId: 'nobody@acme.io' })))
    act(() => s.stores.results.getState().receive(makeEvent(901, { userId: 'nobody@acme.io', provider: 'gcp' })))
    expect(s.stores.results.getState().pending).toHaveLength(2)
    expect(screen.queryByText('none in range')).toBeNull()
    const waiting = screen.getByTestId('facets-waiting')
    expect(waiting).toHaveTextContent('2 new events are waiting')
    expect(screen.queryByTestId('facets-empty')).toBeNull()
    // The value filtered for stays, to be undone.
    expect(screen.getByTestId('facet-value-user-nobody@acme.io')).toHaveAttribute('aria-pressed', 'true')
    // Shown, they are rows and count in the facets as any other.
    fireEvent.click(within(waiting).getByRole('button', { name: 'Show them' }))
    expect(s.stores.results.getState().rows).toHaveLength(2)
    expect(screen.queryByTestId('facets-waiting')).toBeNull()
    expect(screen.getByTestId('facet-value-user-nobody@acme.io')).toHaveTextContent('nobody@acme.io2')
    expect(screen.getByTestId('facet-value-provider-gcp')).toHaveTextContent('gcp1')
  })
})

describe('QueryBar and FacetSidebar', () => {
  /** Types draft in the bar, then clicks the azure provider facet. */
  async function typeThenClickAzure(draft: string) {
    const s = setup()
    await loaded(s)
    renderWith(s.stores, <><QueryBar /><FacetSidebar /></>)
    const input = screen.getByTestId('query-input') as HTMLInputElement
    await userEvent.type(input, draft)
    fireEvent.click(screen.getByTestId('facet-value-provider-azure'))
    return { s, input }
  }

  it('adds a clicked facet to the query being typed instead of discarding it', async () => {
    const { s, input } = await typeThenClickAzure('risk:high user:alice@acme.io')
    const q = s.stores.view.getState().q
    expect(parseQuery(q).filter).toEqual({ riskLevels: ['high'], userIds: ['alice@acme.io'], providers: ['azure'] })
    await waitFor(() => expect(input.value).toBe(q))
  })

  it('keeps a draft it cannot apply, with the facet added, and applies the facet', async () => {
    const { s, input } = await typeThenClickAzure('status:done')
    expect(s.stores.view.getState().q).toBe('provider:azure')
    await waitFor(() => expect(input.value).toBe('status:done provider:azure'))
  })

  it('merges a facet with the same field in a draft it cannot apply, and applies that field', async () => {
    const { s, input } = await typeThenClickAzure('provider:aws status:')
    // Not provider:azure alone beside a bar that reads provider:aws too.
    expect(s.stores.view.getState().q).toBe('provider:aws provider:azure')
    await waitFor(() => expect(input.value).toBe('provider:aws provider:azure status:'))
    expect(await screen.findByTestId('query-applied')).toHaveTextContent('The timeline shows provider:aws provider:azure')
    expect(screen.getByTestId('query-error')).toHaveTextContent('status: needs a value')
  })

  it('excludes a value a draft it cannot apply filters for, instead of contradicting it', async () => {
    const s = setup()
    await loaded(s)
    renderWith(s.stores, <><QueryBar /><FacetSidebar /></>)
    const input = screen.getByTestId('query-input') as HTMLInputElement
    await userEvent.type(input, 'provider:aws status:')
    fireEvent.click(screen.getByRole('button', { name: 'Exclude provider aws' }))
    expect(s.stores.view.getState().q).toBe('-provider:aws')
    await waitFor(() => expect(input.value).toBe('-provider:aws status:'))
  })

  it('applies a draft whose unfinished term the facet click completes', async () => {
    const { s, input } = await typeThenClickAzure('risk:high provider:')
    expect(s.stores.view.getState().q).toBe('risk:high provider:azure')
    expect(s.stores.view.getState().draft).toBeUndefined()
    await waitFor(() => expect(input.value).toBe('risk:high provider:azure'))
  })
})

describe('TimelineRow', () => {
  it('shows time, action, user, provider, resource, status and risk', () => {
    const e = makeEvent(7, { status: 'failed', riskLevel: 'high', resourceIds: ['arn:aws:ec2:us-east-1:1:instance/i-123', 'x'] })
    render(
      <MantineProvider env="test" theme={theme}>
        <TimelineRow event={e} index={0} selected fresh={false} tz="utc" onOpen={() => {}} />
      </MantineProvider>,
    )
    const row = screen.getByTestId('timeline-row')
    expect(row).toHaveAttribute('aria-selected', 'true')
    expect(row).toHaveAttribute('data-attention', 'true')
    expect(row).toHaveTextContent('Nov 19 19:27:00.000')
    expect(row).toHaveTextContent('scan.completed')
    expect(row).toHaveTextContent('alice@acme.io')
    expect(row).toHaveTextContent('i-123 +1')
    // The count in its own element, so the id's ellipsis never cuts it.
    expect(within(row).getByTestId('resource-more')).toHaveTextContent(/^\+1$/)
    expect(within(row).getByText('failed')).toBeInTheDocument()
    expect(within(row).getByText('high')).toBeInTheDocument()
  })
})

describe('StateDiff', () => {
  const before = { size: 'm5.2xlarge', tags: { env: 'prod' }, ports: [22, 443], gone: true }
  const after = { size: 'm5.xlarge', tags: { env: 'prod', owner: 'axiom' }, ports: [443] }

  it('lists added, removed and changed paths', () => {
    const { changes } = diffStates(before, after)
    expect(changes).toEqual(
      expect.arrayContaining([
        { path: 'size', kind: 'changed', before: 'm5.2xlarge', after: 'm5.xlarge' },
        { path: 'tags.owner', kind: 'added', after: 'axiom' },
        { path: 'ports[0]', kind: 'removed', before: 22 },
        { path: 'gone', kind: 'removed', before: true },
      ]),
    )
    expect(changes).toHaveLength(4)
  })

  it('highlights each change', () => {
    render(
      <MantineProvider env="test" theme={theme}>
        <StateDiff before={before} after={after} />
      </MantineProvider>,
    )
    const items = screen.getAllByTestId('diff-change')
    expect(items.map((i) => i.getAttribute('data-kind')).sort()).toEqual(['added', 'changed', 'removed', 'removed'])
    expect(screen.getByText('1 added')).toBeInTheDocument()
    expect(screen.getByText('2 removed')).toBeInTheDocument()
    expect(document.querySelector('.jsondiffpatch-modified')).not.toBeNull()
  })

  it('says when nothing changed', () => {
    render(
      <MantineProvider env="test" theme={theme}>
        <StateDiff before={{ a: 1 }} after={{ a: 1 }} />
      </MantineProvider>,
    )
    expect(screen.getByText(/identical/)).toBeInTheDocument()
  })
})

describe('moveSelection', () => {
  const rows = sampleEvents().reverse() // newest first: 6 5 4 3 2 1
  it('moves by one, to the ends, and to the next failed or high-risk event', () => {
    expect(moveSelection(rows, 0, 'next')).toBe(1)
    expect(moveSelection(rows, 0, 'prev')).toBe(0)
    expect(moveSelection(rows, 2, 'bottom')).toBe(5)
    expect(moveSelection(rows, 4, 'top')).toBe(0)
    // row 0 is seq 6 (high), row 4 is seq 2 (failed, high)
    expect(moveSelection(rows, 0, 'nextAttention')).toBe(4)
    expect(moveSelection(rows, 4, 'nextAttention')).toBeUndefined()
    expect(moveSelection(rows, 4, 'prevAttention')).toBe(0)
    expect(moveSelection([], 0, 'next')).toBeUndefined()
  })
})
