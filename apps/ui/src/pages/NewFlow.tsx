// Placeholder until the page is written.
export default function NewFlowPage() {
  return <p>NewFlow</p>;
}
