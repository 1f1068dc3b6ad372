import type { ReactNode } from "react";

/** Breadcrumb, title, one-line purpose and the page's main action. */
export function PageHeader({ crumb, title, children, action }: { crumb: string; title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <div className="page-header">
      <div>
        <p className="crumb">{crumb}</p>
        <h1>{title}</h1>
        {children && <p className="muted page-lead">{children}</p>}
      </div>
      {action && <div className="page-actions">{action}</div>}
    </div>
  );
}
