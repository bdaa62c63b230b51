import { Combobox, Group, Kbd, Text, TextInput, useCombobox } from '@mantine/core'
import { IconSearch, IconX } from '@tabler/icons-react'
import { useMergedRef } from '@mantine/hooks'
import { forwardRef, useEffect, useMemo, useRef, useState } from 'react'
import { parseQuery } from '../query/parse'
import { suggest, type Suggestion } from '../query/suggest'
import { useResults, useStores, useView } from '../store/context'
import classes from './QueryBar.module.css'

/**
 * Free text plus field:value terms with autocomplete. Enter applies the
 * query; problems are shown under the bar with the part they concern marked.
 */
export const QueryBar = forwardRef<HTMLInputElement>(function QueryBar(_props, ref) {
  const { view } = useStores()
  const committed = useView((s) => s.q)
  const facets = useResults((s) => s.facets)
  // What the box shows: the draft being typed, else the applied query.
  const value = useView((s) => s.draft) ?? committed
  const setValue = (v: string) => view.getState().setDraft(v)
  const [caret, setCaret] = useState(committed.length)
  const [showErrors, setShowErrors] = useState(false)
  const inputRef = useRef<HTMLInputElement>(null)
  const mergedRef = useMergedRef(ref, inputRef)
  const combobox = useCombobox({ onDropdownClose: () => combobox.resetSelectedOption() })

  // The URL (back/forward, facet clicks) changes the query from outside,
  // which drops the draft (see the view store), or keeps one a facet click
  // edited. Its errors show at once: nobody is typing it.
  useEffect(() => {
    setShowErrors(parseQuery(view.getState().draft ?? committed).errors.length > 0)
  }, [committed, view])

  const parsed = useMemo(() => parseQuery(value), [value])
  const suggestions = useMemo(() => suggest(value, caret, facets), [value, caret, facets])
  const errors = showErrors ? parsed.errors : parsed.errors.filter((e) => e.end < caret - 1 || e.start > caret)

  const commit = () => {
    if (parsed.errors.length) {
      setShowErrors(true)
      return
    }
    combobox.closeDropdown()
    view.getState().set({ q: value.trim() })
  }

  const accept = (s: Suggestion, input: HTMLInputElement | null) => {
    const next = value.slice(0, s.start) + s.insert + value.slice(s.end)
    const pos = s.start + s.insert.length
    setValue(next)
    setCaret(pos)
    requestAnimationFrame(() => input?.setSelectionRange(pos, pos))
    // Back to the text: the next Tab moves on, the next Enter searches.
    combobox.resetSelectedOption()
    if (s.insert.endsWith(':')) combobox.openDropdown()
  }

  return (
    <div className={classes.wrap}>
      <Combobox
        store={combobox}
        onOptionSubmit={(v) => {
          const s = suggestions[Number(v)]
          if (s) accept(s, inputRef.current)
        }}
        withinPortal
        position="bottom-start"
      >
        <Combobox.Target>
          <TextInput
            ref={mergedRef}
            value={value}
            data-testid="query-input"
            aria-label="Search events"
            aria-invalid={errors.length > 0}
            placeholder='Search: status:failed risk:high -provider:gcp resource:arn:aws:s3* "bucket policy"'
            leftSection={<IconSearch size={16} />}
            rightSectionWidth={value ? 36 : 64}
            rightSection={
              value ? (
                <IconX
                  size={16}
                  role="button"
                  aria-label="Clear the query"
                  style={{ cursor: 'pointer' }}
                  onClick={() => {
                    setValue('')
                    view.getState().set({ q: '' })
                  }}
                />
              ) : (
                <Group gap={2} wrap="nowrap">
                  <Kbd size="xs">/</Kbd>
                </Group>
              )
            }
            classNames={{ input: classes.input }}
            error={errors.length > 0}
            spellCheck={false}
            autoComplete="off"
            onChange={(e) => {
              setValue(e.currentTarget.value)
              setCaret(e.currentTarget.selectionStart ?? e.currentTarget.value.length)
              setShowErrors(false)
              combobox.openDropdown()
              combobox.updateSelectedOptionIndex()
            }}
            onSelect={(e) => setCaret(e.currentTarget.selectionStart ?? 0)}
            onFocus={() => combobox.openDropdown()}
            onBlur={() => combobox.closeDropdown()}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && combobox.getSelectedOptionIndex() < 0) {
                e.preventDefault()
                commit()
              } else if (e.key === 'Escape') {
                if (combobox.dropdownOpened) combobox.closeDropdown()
                else e.currentTarget.blur()
              } else if (e.key === 'Tab' && combobox.dropdownOpened && !e.shiftKey) {
                // Tab completes only a suggestion the user has moved to (with
                // the arrow keys); otherwise it moves focus on as everywhere
                // else, and the draft stays as typed.
                const s = suggestions[combobox.getSelectedOptionIndex()]
                if (s) {
                  e.preventDefault()
                  accept(s, e.currentTarget)
                }
              }
            }}
          />
        </Combobox.Target>
        <Combobox.Dropdown hidden={suggestions.length === 0}>
          <Combobox.Options aria-label="Suggestions">
            {suggestions.map((s, i) => (
              <Combobox.Option value={String(i)} key={s.label} data-testid="query-suggestion">
                <Group justify="space-between" wrap="nowrap" gap="lg">
                  <Text size="sm" ff="monospace">
                    {s.label}
                  </Text>
                  {s.hint && (
                    <Text size="xs" c="dimmed">
                      {s.hint}
                    </Text>
                  )}
                </Group>
              </Combobox.Option>
            ))}
          </Combobox.Options>
          <Combobox.Footer>
            <Text size="xs" c="dimmed">
              <Kbd size="xs">↑</Kbd> <Kbd size="xs">↓</Kbd> choose · <Kbd size="xs">Tab</Kbd> complete · <Kbd size="xs">Enter</Kbd> search
            </Text>
          </Combobox.Footer>
        </Combobox.Dropdown>
      </Combobox>
      {errors.length > 0 && <QueryErrors input={value} errors={errors} applied={value.trim() !== committed ? committed : undefined} />}
    </div>
  )
})

function QueryErrors({ input, errors, applied }: { input: string; errors: { message: string; start: number; end: number }[]; applied?: string }) {
  const first = errors[0]
  if (!first) return null
  return (
    <div className={classes.errors} role="alert" data-testid="query-error">
      <Text size="xs" ff="monospace" className={classes.mirror}>
        {input.slice(0, first.start)}
        <mark className={classes.mark}>{input.slice(first.start, Math.max(first.end, first.start + 1)) || ' '}</mark>
        {input.slice(Math.max(first.end, first.start + 1))}
      </Text>
      <Text size="xs" c="red">
        {first.message}
        {errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}
      </Text>
      {applied !== undefined && (
        <Text size="xs" c="dimmed" mt={2} className={classes.applied} data-testid="query-applied">
          Not searched yet. The timeline shows {applied ? <code>{applied}</code> : 'the range without a query'}.
        </Text>
      )}
    </div>
  )
}
