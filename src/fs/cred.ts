/**
 * Credentials of a task (struct cred): who it is for permission checks.
 * Immutable; a task that changes identity gets a new one.
 */
export interface Cred {
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups (getgroups). */
  readonly groups: readonly number[];
}

/** The superuser's credentials (init_cred). */
export const ROOT_CRED: Cred = Object.freeze({ uid: 0, gid: 0, groups: Object.freeze([]) as readonly number[] });

/** Builds a credential set (prepare_creds + set*id). */
export function makeCred(uid: number, gid: number, groups: readonly number[] = []): Cred {
  return Object.freeze({ uid, gid, groups: Object.freeze([...groups]) });
}

/** True when `cred` is in group `gid` (in_group_p). */
export function inGroup(cred: Cred, gid: number): boolean {
  return cred.gid === gid || cred.groups.includes(gid);
}
