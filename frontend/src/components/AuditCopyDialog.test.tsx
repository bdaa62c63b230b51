import { act, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { useState } from 'react'
import { describe, expect, it } from 'vitest'
import type { AuditApi } from '../api/client'
import { createFakeApi } from '../api/fake'
import { NOW, renderWith, sampleEvents, setup } from '../test/render'
import { AuditCopyButton, AuditCopyDialog, auditorCommand, defaultCopyName, shellWord } from './AuditCopyDialog'

function openDialog(api: AuditApi) {
  const s = setup({ api, search: '?org=acme&range=90d' })
  renderWith(s.stores, <AuditCopyDialog opened onClose={() => {}} now={() => NOW} />)
  return s
}

const folderBox = () => screen.getByRole('textbox', { name: /^Folder/ })
const nameBox = () => screen.getByRole('textbox', { name: /New folder/ })

describe('AuditCopyDialog', () => {
  it('makes a copy in a new folder of the typed folder, then shows the auditor’s command and the verifier key', async () => {
    const api = createFakeApi(sampleEvents(), { now: () => NOW })
    const s = openDialog(api)
    await act(() => s.stores.session.getState().loadCheckpoint('acme'))
    expect(nameBox()).toHaveValue('axiom-audit-copy-2026-11-20')

    await userEvent.type(folderBox(), '/home/alice/audits/')
    await userEvent.click(screen.getByTestId('audit-copy-start'))
    const done = await screen.findByTestId('audit-copy-done')
    const dir = '/home/alice/audits/axiom-audit-copy-2026-11-20'
    expect(screen.getByTestId('audit-copy-dir')).toHaveTextContent(dir)
    expect(done).toHaveTextContent(/events of 1 organization, as of now/)
    expect(screen.getByTestId('audit-copy-command')).toHaveTextContent(
      `axiom-audit verify --data-dir ${dir} --read-key ${dir}/read-key --public-key owner.pub`,
    )
    const key = (await api.latestCheckpoint('acme')).publicKey
    expect(screen.getByTestId('audit-copy-public-key')).toHaveTextContent(key)
    for (const name of ["Copy the copy's path", "Copy the auditor's command", 'Copy the verifier key']) {
      expect(within(done).getByRole('button', { name })).toBeInTheDocument()
    }
  })

  it('copies the organization in view alone unless asked for every one', async () => {
    const api = createFakeApi(sampleEvents(), { now: () => NOW })
    const asked: (string[] | undefined)[] = []
    const copy = api.copyForAudit
    const spied: AuditApi = { ...api, copyForAudit: (dir, orgs) => (asked.push(orgs), copy(dir, orgs)) }
    openDialog(spied)
    expect(screen.getByTestId('audit-copy-scope-org')).toBeChecked()
    expect(screen.getByLabelText('acme only')).toBeChecked()
    await userEvent.type(folderBox(), '/home/alice/audits')
    await userEvent.click(screen.getByTestId('audit-copy-start'))
    await screen.findByTestId('audit-copy-done')
    expect(asked).toEqual([['acme']])
  })

  it('copies every organization when asked', async () => {
    const api = createFakeApi(sampleEvents(), { now: () => NOW })
    const asked: (string[] | undefined)[] = []
    const copy = api.copyForAudit
    openDialog({ ...api, copyForAudit: (dir, orgs) => (asked.push(orgs), copy(dir, orgs)) })
    await userEvent.click(screen.getByLabelText('Every organization of this profile'))
    await userEvent.type(folderBox(), '/home/alice/audits')
    await userEvent.click(screen.getByTestId('audit-copy-start'))
    const done = await screen.findByTestId('audit-copy-done')
    expect(asked).toEqual([undefined])
    expect(done).toHaveTextContent(/events of \d+ organizations?, as of now/)
  })

  it('says what is wrong with the folder, next to it, and never writes into a folder that exists', async () => {
    const api = createFakeApi(sampleEvents(), { now: () => NOW })
    openDialog(api)
    await userEvent.click(screen.getByTestId('audit-copy-start'))
    expect(await screen.findByText('Type the absolute path of the folder to make the copy in.')).toBeInTheDocument()

    await userEvent.type(folderBox(), 'audits')
    await userEvent.click(screen.getByTestId('audit-copy-start'))
    expect(await screen.findByText(/as an absolute path/)).toBeInTheDocument()

    await userEvent.clear(nameBox())
    await userEvent.type(nameBox(), 'a/b')
    await userEvent.clear(folderBox())
    await userEvent.type(folderBox(), '/home/alice')
    await userEvent.click(screen.getByTestId('audit-copy-start'))
    expect(await screen.findByText(/Name the new folder of the copy/)).toBeInTheDocument()

    // A folder the copy was made in before is refused, not written into.
    await api.copyForAudit('/home/alice/first')
    await userEvent.clear(nameBox())
    await userEvent.type(nameBox(), 'first')
    await userEvent.click(screen.getByTestId('audit-copy-start'))
    expect(await screen.findByText(/\/home\/alice\/first exists: name a new directory/)).toBeInTheDocument()
    expect(screen.queryByTestId('audit-copy-done')).toBeNull()
  })

  it('explains a folder it may not write in', async () => {
    openDialog(createFakeApi(sampleEvents(), { now: () => NOW }))
    await userEvent.type(folderBox(), '/read-only/audits')
    await userEvent.click(screen.getByTestId('audit-copy-start'))
    const alert = await screen.findByTestId('audit-copy-error')
    expect(alert).toHaveTextContent('Cannot write in this folder')
    expect(alert).toHaveTextContent('copy again')
  })

  it('is offered only where the app can make copies (the desktop app, not a browser session)', () => {
    const fake = createFakeApi(sampleEvents(), { now: () => NOW })
    const s = setup({ api: { ...fake, canCopyForAudit: false } })
    renderWith(s.stores, <AuditCopyButton />)
    expect(screen.queryByTestId('audit-copy-button')).toBeNull()
    const t = setup({ api: fake })
    renderWith(t.stores, <AuditCopyButton />)
    expect(screen.getByTestId('audit-copy-button')).toHaveTextContent('Copy for auditor…')
  })

  it('quotes paths the shell would read in the auditor’s command, and names the copy after the UTC day', () => {
    expect(auditorCommand({ dir: '/Users/Al Ice/copy', readKeyFile: '/Users/Al Ice/copy/read-key', organizations: 1, events: 2 })).toBe(
      "axiom-audit verify --data-dir '/Users/Al Ice/copy' --read-key '/Users/Al Ice/copy/read-key' --public-key owner.pub",
    )
    const cases: [string, string][] = [
      ['/home/al/audits/axiom-audit-copy-2026-11-20', '/home/al/audits/axiom-audit-copy-2026-11-20'],
      ['/home/al/copy(1)', `'/home/al/copy(1)'`],
      ['/home/al/acme&co', `'/home/al/acme&co'`],
      ['/home/al/a$HOME b', `'/home/al/a$HOME b'`],
      [`/home/al/q4 'final'`, `'/home/al/q4 '\\''final'\\'''`],
      ['C:\\Users\\al\\q4 copy', '"C:\\Users\\al\\q4 copy"'],
    ]
    for (const [path, word] of cases) expect(shellWord(path)).toBe(word)
    expect(defaultCopyName(Date.parse('2026-12-31T23:30:00-05:00'))).toBe('axiom-audit-copy-2027-01-01')
  })

  it('shows each problem on its own field, and a reopened dialog starts clean', async () => {
    const api = createFakeApi(sampleEvents(), { now: () => NOW })
    const s = setup({ api, search: '?org=acme&range=90d' })
    function Harness() {
      const [opened, setOpened] = useState(true)
      return (
        <>
          <button onClick={() => setOpened(true)}>reopen</button>
          <AuditCopyDialog opened={opened} onClose={() => setOpened(false)} now={() => NOW} />
        </>
      )
    }
    renderWith(s.stores, <Harness />)
    await userEvent.clear(nameBox())
    await userEvent.type(nameBox(), 'a/b')
    await userEvent.click(screen.getByTestId('audit-copy-start'))
    expect(folderBox()).toHaveAttribute('aria-invalid', 'true')
    expect(nameBox()).toHaveAttribute('aria-invalid', 'true')
    expect(screen.getByText(/Name the new folder of the copy/)).toBeInTheDocument()

    await userEvent.type(folderBox(), '/home/alice')
    await userEvent.clear(nameBox())
    await userEvent.type(nameBox(), 'first')
    await api.copyForAudit('/home/alice/first')
    await userEvent.click(screen.getByTestId('audit-copy-start'))
    expect(await screen.findByText(/\/home\/alice\/first exists/)).toBeInTheDocument()
    expect(nameBox()).toHaveAttribute('aria-invalid', 'true')
    expect(folderBox()).toHaveAttribute('aria-invalid', 'false')

    await userEvent.click(screen.getByRole('button', { name: 'Cancel' }))
    await waitFor(() => expect(screen.queryByTestId('audit-copy-start')).toBeNull())
    await userEvent.click(screen.getByRole('button', { name: 'reopen' }))
    expect(await screen.findByTestId('audit-copy-start')).toBeInTheDocument()
    expect(screen.queryByText(/exists/)).toBeNull()
    expect(nameBox()).toHaveValue('axiom-audit-copy-2026-11-20')
  })
})
