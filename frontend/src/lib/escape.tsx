import { createContext, useContext, useEffect, useLayoutEffect, useRef, type ReactNode } from 'react'

// Mantine closes a popover or a dialog on Escape only when the key is
// pressed inside it, which is where its focus trap puts focus once the
// content is there: a few milliseconds, or the time a lazy chunk takes to
// load, after it opens. An Escape pressed before that went to the button
// that opened it and was lost. The provider keeps the open ones in the
// order they opened and closes the newest on an Escape pressed outside all
// of them. Inside one, Mantine's own handling stands: it already closes the
// innermost (a calendar in the range's popover before the popover).

type Close = { current: () => void }
type Stack = Close[]

const EscapeStack = createContext<Stack | undefined>(undefined)

// Where an Escape is already someone's: inside a popover, dialog or menu,
// in a popup's list (a combobox's options, in Mantine's role=presentation
// dropdown), or on an input whose suggestions are open (Mantine marks it).
// Not the timeline, a listbox of the page that does nothing with Escape:
// focus stays there when a click does not move it (WebKit's buttons).
function handledWhere(target: EventTarget | null): boolean {
  if (!(target instanceof Element)) return false
  if (target.closest('[data-mantine-stop-propagation=true]')) return true
  return target.closest('[role=dialog], [role=menu], [role=presentation] [role=listbox]') !== null
}

export function EscapeProvider({ children }: { children: ReactNode }) {
  const stack = useRef<Stack>([]).current
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape' || e.defaultPrevented || handledWhere(e.target)) return
      const newest = stack[stack.length - 1]
      if (!newest) return
      // Nothing under it (the event's drawer, the search) closes as well,
      // nor does a dialog's own listener on the window (Mantine's Modal)
      // call its onClose a second time: Mantine adds that one anew each
      // time the dialog renders, so after this one once it is open.
      e.preventDefault()
      e.stopImmediatePropagation()
      newest.current()
    }
    window.addEventListener('keydown', onKey, true)
    return () => window.removeEventListener('keydown', onKey, true)
  }, [stack])
  return <EscapeStack.Provider value={stack}>{children}</EscapeStack.Provider>
}

/**
 * Closes a popover or dialog on Escape from the moment it opens, also
 * while focus has not moved into it yet. Without an EscapeProvider above
 * (a component test) it does nothing.
 */
export function useCloseOnEscape(opened: boolean, close: () => void) {
  const stack = useContext(EscapeStack)
  const ref = useRef(close)
  useEffect(() => {
    ref.current = close
  })
  // Before the browser paints it: an Escape can follow the first frame.
  useLayoutEffect(() => {
    if (!opened || !stack) return
    const entry: Close = { current: () => ref.current() }
    stack.push(entry)
    return () => {
      const i = stack.indexOf(entry)
      if (i >= 0) stack.splice(i, 1)
    }
  }, [opened, stack])
}
