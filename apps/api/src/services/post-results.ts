import type { PostResult } from "@lxtag/contracts";
import type { PostResult as PostResultRow } from "@lxtag/db";

/** The db types `state` as a string; the column is the PostState enum, and the serializer checks it again. */
export const toPostResult = <T extends PostResultRow>(row: T): T & PostResult => ({
  ...row,
  state: row.state as PostResult["state"],
});
