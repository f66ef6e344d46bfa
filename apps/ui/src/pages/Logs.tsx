// Placeholder until the page is written.
export default function LogsPage() {
  return <p>Logs</p>;
}
