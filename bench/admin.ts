/** The benches' admin connection to the test Postgres (`bash scripts/services.sh`, or SLUICE_TEST_DATABASE_URL). */
import pg from 'pg';

export const adminUrl = process.env.SLUICE_TEST_DATABASE_URL ?? 'postgres://sluice:sluice@127.0.0.1:5433/postgres';

/** One statement (a CREATE or DROP DATABASE) on a connection of its own. */
export async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
