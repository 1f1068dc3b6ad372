import type { FastifyInstance } from "fastify";
import { createSecretBox, type Store } from "@flowplane/core";
import { buildApi } from "./http/app.js";
import { BundleService } from "./services/bundles.js";
import type { ServiceDeps } from "./services/context.js";
import { DeploymentService } from "./services/deployments.js";
import { IdentityService } from "./services/identity.js";

export interface ControlPlaneOptions {
  store: Store;
  secretKey: Buffer;
  urls: ServiceDeps["urls"];
  bodyLimit: number;
  logLevel: string | false;
  now?: () => Date;
  version?: string;
}

export interface ControlPlane {
  app: FastifyInstance;
  identity: IdentityService;
  bundles: BundleService;
  deployments: DeploymentService;
}

/** Wires the services and the HTTP API over one store. Used by main and by the API tests. */
export function createControlPlane(o: ControlPlaneOptions): ControlPlane {
  const deps: ServiceDeps = { store: o.store, secretBox: createSecretBox(o.secretKey), now: o.now ?? (() => new Date()), urls: o.urls };
  const identity = new IdentityService(deps);
  const bundles = new BundleService(deps);
  const deployments = new DeploymentService(deps);
  const app = buildApi({ identity, bundles, deployments, bodyLimit: o.bodyLimit, logLevel: o.logLevel, version: o.version ?? "0.1.0" });
  return { app, identity, bundles, deployments };
}
