"""Understanding and dialogue: pure logic, no I/O, no clock of its own."""
