import type { TestProject } from "vitest/node";
import { type StackInfo, startStack } from "./stack";

declare module "vitest" {
  export interface ProvidedContext {
    stack: StackInfo;
  }
}

/** One `wrangler dev` (and WorkOS stand-in) for the whole browser suite; each test uses its own users. */
export default async function setup(project: TestProject) {
  const { stop, ...stack } = await startStack();
  project.provide("stack", stack);
  return stop;
}
