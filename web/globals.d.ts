// For the optional type check only (tsc --noEmit; never served): what the
// pages add to `window`.
interface Window {
  /** The test hooks each page exposes (tests/it drive them through WebDriver). */
  diemcau: any;
  /** Older WebKit's name for AudioContext. */
  webkitAudioContext: typeof AudioContext;
}
