"""The commands: parse the arguments, call the door, hand the result to render."""
