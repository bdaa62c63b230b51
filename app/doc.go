// Package app is the Axiom Audit application: the use cases that the desktop
// window (Wails bindings), the local REST API and the command line share.
//
// Dependencies point one way: the frontend calls app, app calls storage. Only
// this package imports the Wails runtime; main.go only wires paths, the
// keystore, the store and the App together.
package app
