-- Nodes that share one store (PostgreSQL across a tree, or one SQLite file
-- on a machine) each see only the child nodes registered at them: the
-- node id of the node a child was registered at. NULL for rows made before
-- this column or by a node without a node id: seen by every node.
ALTER TABLE cascade_nodes ADD COLUMN parent_node TEXT;
