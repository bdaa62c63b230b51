import { useState } from 'react'
import { type ApiError, toApiError } from '../api/errors'
import { useStores } from '../store/context'

/**
 * The native folder picker of a dialog's folder field: choose() opens it
 * (titled, when given) and hands a chosen folder to onChosen, a failure to
 * onError; picking is true while it is open.
 */
export function useFolderPicker(title: string | undefined, onChosen: (dir: string) => void, onError: (err: ApiError) => void) {
  const { api } = useStores()
  const [picking, setPicking] = useState(false)
  const choose = async () => {
    setPicking(true)
    try {
      const dir = await api.chooseExportFolder(title)
      if (dir) onChosen(dir)
    } catch (err) {
      onError(toApiError(err))
    } finally {
      setPicking(false)
    }
  }
  return { choose, picking }
}
