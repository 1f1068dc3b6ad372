import { useEffect, useState } from "react";
import { listAll } from "../api/client";
import type { BundleSummary } from "@flowplane/core/api";
import { Link } from "../lib/router";
import { useSession } from "../lib/session";
import { Icon } from "../ui/icons";
import { Modal } from "../ui/modal";
import { Empty, ErrorState, Loading } from "../ui/states";
import { lookalikes } from "../lib/lookalike";
import { EngineBadge, LookalikeNote, ParameterChips } from "./bundle-bits";

/** "+ Add Flow" in the Estate: choose a published flow, then the Deploy dialog opens. */
export function PickBundleDialog({ onClose, onPick }: { onClose: () => void; onPick: (b: { name: string; version: string }) => void }) {
  const s = useSession();
  const [bundles, setBundles] = useState<BundleSummary[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    listAll(s.api, "listBundles", {}).then(setBundles, setError);
  }, [s.api]);
  const like = lookalikes(bundles?.map((b) => b.name) ?? []);
  return (
    <Modal wide title="Add Flow" onClose={onClose} description="Choose the published flow to deploy. You can pick its version in the next step.">
      {error ? <ErrorState error={error} /> : !bundles ? <Loading what="published flows" /> : bundles.length === 0 ? (
        <Empty title="Nothing published yet" action={<Link className="button" to="/asset-library/published-flows" onClick={onClose}>Go to Published Flows</Link>}>
          Publish a flow in the Asset Library first.
        </Empty>
      ) : (
        <ul className="pick-list" aria-label="Published flows">
          {bundles.map((b) => (
            <li key={b.name}>
              <button type="button" className="pick-item" onClick={() => onPick({ name: b.name, version: b.latest.versionTag })}>
                <span className="pick-main">
                  <strong>{b.name}</strong> <span className="tag">{b.latest.versionTag}</span>
                  {b.latest.description && <span className="cell-sub">{b.latest.description}</span>}
                  <LookalikeNote inline v={b.latest} like={like.get(b.name)} />
                </span>
                <span className="pick-meta">
                  <ParameterChips inline parameters={b.latest.parameters} />
                  <EngineBadge v={b.latest} />
                </span>
                <Icon name="chevron" />
              </button>
            </li>
          ))}
        </ul>
      )}
    </Modal>
  );
}
