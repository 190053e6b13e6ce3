import Foundation

/// A file error of Foundation's (`NSCocoaErrorDomain Code=260 …`) in words: which file, and why.
struct FileFailure {
    var message: String

    /// Nil unless `error` is one of Foundation's file errors.
    init?(_ error: any Error) {
        let ns = error as NSError
        guard ns.domain == NSCocoaErrorDomain, (0..<1024).contains(ns.code) else { return nil }
        let path =
            (ns.userInfo[NSFilePathErrorKey] as? String) ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path ?? "a file"
        let verb: String
        switch ns.code {
        case 256..<512: verb = "cannot read"
        case 512..<1024: verb = "cannot write"
        default: verb = "cannot open"
        }
        var reason = ns.localizedDescription
        var missing = [NSFileNoSuchFileError, NSFileReadNoSuchFileError].contains(ns.code)
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            reason = String(cString: strerror(Int32(underlying.code))).lowercased()
            missing = missing || underlying.code == Int(ENOENT)
        } else if missing {
            reason = "no such file or directory"
        }
        message = "\(verb) \(path): \(reason)" + (missing ? " (check that the file and its directory exist)" : "")
    }
}
