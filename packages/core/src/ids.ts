/** The characters of Kestra-style ids (executions, task runs): `[0-9A-Za-z]`, URL- and path-safe. */
export const ID_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** The length of the execution and task run ids Sluice makes. */
export const ID_LENGTH = 22;
