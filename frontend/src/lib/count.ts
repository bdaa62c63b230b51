/** n of a noun, as the UI writes it: "1 event", "1,234 events". */
export function counted(n: number, noun: string): string {
  return `${n.toLocaleString('en-US')} ${noun}${n === 1 ? '' : 's'}`
}
