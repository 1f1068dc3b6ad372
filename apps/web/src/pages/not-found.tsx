import { Link } from "../lib/router";
import { Empty } from "../ui/states";

export function NotFound() {
  return (
    <Empty title="Page not found" action={<Link className="button" to="/asset-library/published-flows">Go to Published Flows</Link>}>
      There is no page at this address.
    </Empty>
  );
}
