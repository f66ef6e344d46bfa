/** `/executions`: every execution, filtered, sorted and paged through the URL (the list is components/ExecutionList). */
import ExecutionList from '../components/ExecutionList';
import { PageHeader } from '../components/common';
import { Link } from '../router';

export default function ExecutionsPage() {
  return (
    <>
      <PageHeader
        title="Executions"
        subtitle="Every run of every flow, newest first. Filters live in the address bar: share it to share the view."
        actions={
          <Link to="/flows" className="button">
            Execute a flow…
          </Link>
        }
      />
      <ExecutionList />
    </>
  );
}
