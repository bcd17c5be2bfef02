//! Live meeting control, sans-IO: roll call, mute, stage and lecture scan, floor queue, lock, scenes.
