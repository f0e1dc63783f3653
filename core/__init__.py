"""The small shared core every package builds on and none owns: the declarative base and the
column types of every table (`orm`), canonical JSON (`canonical`), unpadded base64url
(`base64url`) and the clock (`clock`). It imports no other package of mianzheng."""
