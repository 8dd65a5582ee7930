import cluster from './001-cluster.js'

/** One versioned SQL migration; `version` orders them and is recorded in schema_version once applied. */
export interface Migration {
  version: number
  name: string
  sql: string
}

/** Every migration, oldest first. Never edit one that has shipped: add the next. */
export const migrations: readonly Migration[] = [cluster]
