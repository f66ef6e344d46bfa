// Placeholder until the page is written.
export default function ExecutionPage() {
  return <p>Execution</p>;
}
