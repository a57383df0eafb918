package remoting

import "errors"

// Sentinel errors. Decoders wrap them with the field and position that failed,
// so callers test with errors.Is.
var (
	// ErrMalformed marks a remoting frame, header, batch body or properties
	// string that cannot be decoded.
	ErrMalformed = errors.New("remoting: malformed")
	// ErrFrameSize marks a frame whose declared length is < 4 or whose whole
	// size exceeds MaxFrameSize.
	ErrFrameSize = errors.New("remoting: bad frame size")
	// ErrCorrupt marks a stored-message record that fails validation.
	ErrCorrupt = errors.New("remoting: corrupt stored message")
	// ErrMsgID marks a message id that cannot be parsed.
	ErrMsgID = errors.New("remoting: bad message id")
	// ErrProperties marks a properties map that cannot be carried faithfully
	// in a properties string.
	ErrProperties = errors.New("remoting: invalid properties")
)
