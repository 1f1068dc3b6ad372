import { operations as ops } from "@flowplane/core/api";
import type { MetricsService } from "../../deployment-metrics/service.js";
import { route, type RouteDef } from "../route.js";
import { param } from "./common.js";

/** A deployment's metrics (docs/metrics.md). */
export function metricsRoutes(metrics: MetricsService): RouteDef[] {
  return [
    route(ops.getDeploymentMetrics, ({ principal, params, query }) => metrics.get(principal, param(params, "projectId"), param(params, "id"), query)),
  ];
}
