import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './ui/App.tsx';
import './pwa/register.ts';

const rootElement = document.getElementById('root');
if (!rootElement) throw new Error('svd-web: #root element missing from index.html');

createRoot(rootElement).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
