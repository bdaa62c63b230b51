/// <reference types="vite/client" />

interface ImportMetaEnv {
  readonly VITE_FAKE_API?: string
}
