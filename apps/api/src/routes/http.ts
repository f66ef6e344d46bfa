/** What several route files share: accepted YAML media types and the paging of search endpoints. */

/** Media types accepted for YAML bodies. */
export const YAML_CONTENT_TYPES = ['application/x-yaml', 'application/yaml', 'text/yaml', 'text/x-yaml'] as const;

/** Largest page a search endpoint returns. */
export const SEARCH_PAGE_MAX = 500;

/** The `page` and `size` query parameters of every search endpoint (Kestra's paging). */
export const pagingQueryProperties = {
  page: { type: 'integer', minimum: 1, default: 1 },
  size: { type: 'integer', minimum: 1, maximum: SEARCH_PAGE_MAX, default: 10 },
} as const;
