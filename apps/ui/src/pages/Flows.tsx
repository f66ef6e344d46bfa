// Placeholder until the page is written.
export default function FlowsPage() {
  return <p>Flows</p>;
}
