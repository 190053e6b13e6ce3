import NIOCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Writes frames in the wire layout: `u32 length | u8 kind | u8 flags | u32 stream id | body`.
public enum FrameWriter {
    /// Appends `frame` to `buffer`. Flags are always written as 0 by this version.
    public static func write(_ frame: Frame, to buffer: inout ByteBuffer) {
        let lengthIndex = buffer.writerIndex
        buffer.writeInteger(UInt32(0), endianness: .big)
        switch frame {
        case .request(let streamID, let method, let timeoutMicros, let payload):
            writeHeader(.request, streamID, &buffer)
            writeShortString(method, &buffer)
            buffer.writeInteger(timeoutMicros, endianness: .big)
            var p = payload
            buffer.writeBuffer(&p)
        case .response(let streamID, let payload):
            writeHeader(.response, streamID, &buffer)
            var p = payload
            buffer.writeBuffer(&p)
        case .error(let streamID, let code, let message):
            writeHeader(.error, streamID, &buffer)
            buffer.writeInteger(code, endianness: .big)
            buffer.writeString(message)
        case .cancel(let streamID):
            writeHeader(.cancel, streamID, &buffer)
        case .ping(let value):
            writeHeader(.ping, 0, &buffer)
            buffer.writeInteger(value, endianness: .big)
        case .pong(let value):
            writeHeader(.pong, 0, &buffer)
            buffer.writeInteger(value, endianness: .big)
        case .push(let topic, let payload):
            writeHeader(.push, 0, &buffer)
            writeShortString(topic, &buffer)
            var p = payload
            buffer.writeBuffer(&p)
        case .goAway(let reason):
            writeHeader(.goAway, 0, &buffer)
            buffer.writeString(reason)
        case .clusterId(let id):
            writeHeader(.clusterId, 0, &buffer)
            withUnsafeBytes(of: id.uuid) { buffer.writeBytes($0) }
        case .unknown(let kind, let streamID):
            buffer.writeInteger(kind)
            buffer.writeInteger(UInt8(0))
            buffer.writeInteger(streamID, endianness: .big)
        }
        let length = buffer.writerIndex - lengthIndex - Frame.lengthPrefixLength
        buffer.setInteger(UInt32(length), at: lengthIndex, endianness: .big)
    }

    /// Appends the frame header of a request and returns, so the caller can write the payload straight
    /// after it; `finish` then fills in the length. Saves a copy of the payload on the hot path.
    public static func beginRequest(
        streamID: UInt32,
        method: String,
        timeoutMicros: UInt64,
        to buffer: inout ByteBuffer
    ) -> Int {
        let lengthIndex = buffer.writerIndex
        buffer.writeInteger(UInt32(0), endianness: .big)
        writeHeader(.request, streamID, &buffer)
        writeShortString(method, &buffer)
        buffer.writeInteger(timeoutMicros, endianness: .big)
        return lengthIndex
    }

    /// Appends a response header; see `beginRequest`.
    public static func beginResponse(streamID: UInt32, to buffer: inout ByteBuffer) -> Int {
        let lengthIndex = buffer.writerIndex
        buffer.writeInteger(UInt32(0), endianness: .big)
        writeHeader(.response, streamID, &buffer)
        return lengthIndex
    }

    /// Appends a push header; see `beginRequest`.
    public static func beginPush(topic: String, to buffer: inout ByteBuffer) -> Int {
        let lengthIndex = buffer.writerIndex
        buffer.writeInteger(UInt32(0), endianness: .big)
        writeHeader(.push, 0, &buffer)
        writeShortString(topic, &buffer)
        return lengthIndex
    }

    /// Fills in the length prefix of a frame started with one of the `begin` functions.
    public static func finish(lengthIndex: Int, in buffer: inout ByteBuffer) {
        let length = buffer.writerIndex - lengthIndex - Frame.lengthPrefixLength
        buffer.setInteger(UInt32(length), at: lengthIndex, endianness: .big)
    }

    @inline(__always)
    private static func writeHeader(_ kind: FrameKind, _ streamID: UInt32, _ buffer: inout ByteBuffer) {
        buffer.writeInteger(kind.rawValue)
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(streamID, endianness: .big)
    }

    @inline(__always)
    private static func writeShortString(_ s: String, _ buffer: inout ByteBuffer) {
        precondition(s.utf8.count >= 1 && s.utf8.count <= 255, "method and topic names are 1 to 255 bytes of UTF-8")
        buffer.writeInteger(UInt8(s.utf8.count))
        buffer.writeString(s)
    }
}

/// Parses the body of one frame whose length prefix has already been checked.
public enum FrameParser {
    /// Parses `body` (everything after the length prefix). Throws `WireError.malformedFrame` when the
    /// body does not have the length its kind requires, a name is not UTF-8, a connection-level kind
    /// (ping, pong, push, goAway) is not on stream 0, or a response is on stream 0.
    public static func parse(_ body: inout ByteBuffer) throws -> Frame {
        guard let kindByte = body.readInteger(as: UInt8.self),
            let _ = body.readInteger(as: UInt8.self),  // flags: no bits are defined; unknown bits are ignored
            let streamID = body.readInteger(endianness: .big, as: UInt32.self)
        else {
            throw WireError(.frameTooShort, "frame shorter than its \(Frame.headerLength)-byte header")
        }
        guard let kind = FrameKind(rawValue: kindByte) else {
            return .unknown(kind: kindByte, streamID: streamID)
        }
        switch kind {
        case .request:
            let method = try readShortString(&body, "method name")
            guard let timeout = body.readInteger(endianness: .big, as: UInt64.self) else {
                throw WireError(.malformedFrame, "request frame ends inside its timeout field")
            }
            return .request(streamID: streamID, method: method, timeoutMicros: timeout, payload: body)
        case .response:
            guard streamID != 0 else {
                throw WireError(.malformedFrame, "a response frame on stream 0; it belongs on its call's stream")
            }
            return .response(streamID: streamID, payload: body)
        case .error:
            guard let code = body.readInteger(endianness: .big, as: UInt16.self) else {
                throw WireError(.malformedFrame, "error frame ends inside its status code")
            }
            guard let message = body.readValidUTF8(length: body.readableBytes) else {
                throw WireError(.malformedFrame, "error message is not valid UTF-8")
            }
            return .error(streamID: streamID, code: code, message: message)
        case .cancel:
            guard body.readableBytes == 0 else {
                throw WireError(
                    .malformedFrame,
                    "a cancel frame's body is empty, this one has \(body.readableBytes) bytes"
                )
            }
            return .cancel(streamID: streamID)
        case .ping, .pong:
            try requireStreamZero(kind, streamID)
            guard body.readableBytes == 8, let value = body.readInteger(endianness: .big, as: UInt64.self) else {
                throw WireError(
                    .malformedFrame,
                    "a \(kind) frame's body is 8 bytes, this one has \(body.readableBytes)"
                )
            }
            return kind == .ping ? .ping(value) : .pong(value)
        case .push:
            try requireStreamZero(kind, streamID)
            let topic = try readShortString(&body, "push topic")
            return .push(topic: topic, payload: body)
        case .goAway:
            try requireStreamZero(kind, streamID)
            guard let reason = body.readValidUTF8(length: body.readableBytes) else {
                throw WireError(.malformedFrame, "goAway reason is not valid UTF-8")
            }
            return .goAway(reason: reason)
        case .clusterId:
            try requireStreamZero(kind, streamID)
            guard body.readableBytes == 16, let bytes = body.readBytes(length: 16) else {
                throw WireError(
                    .malformedFrame,
                    "a clusterId frame's body is 16 bytes, this one has \(body.readableBytes)"
                )
            }
            let id = bytes.withUnsafeBytes { $0.loadUnaligned(as: uuid_t.self) }
            return .clusterId(UUID(uuid: id))
        }
    }

    /// Ping, pong, push, goAway and clusterId belong to the connection: they travel on stream 0 only.
    private static func requireStreamZero(_ kind: FrameKind, _ streamID: UInt32) throws {
        guard streamID == 0 else {
            throw WireError(.malformedFrame, "a \(kind) frame on stream \(streamID); it belongs on stream 0")
        }
    }

    private static func readShortString(_ body: inout ByteBuffer, _ what: String) throws -> String {
        guard let length = body.readInteger(as: UInt8.self), length > 0 else {
            throw WireError(.malformedFrame, "\(what) is missing or empty")
        }
        guard body.readableBytes >= Int(length) else {
            throw WireError(
                .malformedFrame,
                "\(what) declares \(length) bytes but the frame has \(body.readableBytes) left"
            )
        }
        guard let s = body.readValidUTF8(length: Int(length)) else {
            throw WireError(.malformedFrame, "\(what) is not valid UTF-8")
        }
        return s
    }
}

extension ByteBuffer {
    /// Reads `length` bytes as UTF-8; nil when they are missing or not valid UTF-8.
    @inlinable
    mutating func readValidUTF8(length: Int) -> String? {
        guard let s = try? getUTF8ValidatedString(at: readerIndex, length: length) else { return nil }
        moveReaderIndex(forwardBy: length)
        return s
    }
}
