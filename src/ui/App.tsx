/** Placeholder: the real UI replaces this component. */
export function App() {
  return (
    <main id="app" data-testid="app-root">
      <h1>svd-web</h1>
    </main>
  );
}

export default App;
