// Placeholder until the page is written.
export default function FlowPage() {
  return <p>Flow</p>;
}
