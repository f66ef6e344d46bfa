// Placeholder until the page is written.
export default function ExecutePage() {
  return <p>Execute</p>;
}
