"""Audio: RTP, codecs, resampling, pacing, turn-taking, speech-to-text and text-to-speech."""
