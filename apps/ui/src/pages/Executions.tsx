// Placeholder until the page is written.
export default function ExecutionsPage() {
  return <p>Executions</p>;
}
