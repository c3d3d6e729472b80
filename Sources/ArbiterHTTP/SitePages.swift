import Foundation
import Hummingbird

/// The demo bank's pages (`/site/home.html` and the others), composed once when the router is
/// made: `site/templates/layout.html` (the demo bar, header, footer and dialog every page shares)
/// around each page's `site/templates/<name>.html` (its `<main>`, after a first line
/// `<!-- title: … -->`). The layout's placeholders are `{{title}}`, `{{page}}` (the page's name,
/// for the snippet), `{{key}}` (the snippet's `data-arbiter-key` attribute with the site key, or
/// nothing), `{{current:<name>}}` (marks the current page's link) and `{{main}}`.
struct SitePages: Sendable {
  /// The pages, in the order of the site's navigation.
  static let names = ["home", "cards", "savings", "mortgages"]
  /// Where the templates are under the web root; not served themselves.
  static let templatesPath = "/site/templates/"

  /// Each page's HTML by name, or why it could not be made (its template missing or malformed).
  let pages: [String: Result<[UInt8], Problem>]

  /// Reads and composes the pages under `webRoot`, the snippet given `siteKey`.
  init(webRoot: String, siteKey: String? = nil) {
    let folder = webRoot + Self.templatesPath
    let layout = try? String(contentsOfFile: folder + "layout.html", encoding: .utf8)
    var pages: [String: Result<[UInt8], Problem>] = [:]
    for name in Self.names {
      let path = folder + name + ".html"
      guard let layout else {
        pages[name] = .failure(Problem(message: "\(folder)layout.html cannot be read"))
        continue
      }
      guard let template = try? String(contentsOfFile: path, encoding: .utf8) else {
        pages[name] = .failure(Problem(message: "\(path) cannot be read"))
        continue
      }
      pages[name] = Self.compose(layout: layout, name: name, template: template, siteKey: siteKey)
        .map { Array($0.utf8) }
        .mapError { Problem(message: "\(path): \($0.message)") }
    }
    self.pages = pages
  }

  /// What is wrong with a template.
  struct Problem: Error {
    var message: String
  }

  /// One page: the layout with the page's title, name, current link and `<main>` filled in.
  static func compose(layout: String, name: String, template: String, siteKey: String? = nil) -> Result<String, Problem>
  {
    let prefix = "<!-- title: "
    guard template.hasPrefix(prefix), let end = template.range(of: " -->\n") else {
      return .failure(Problem(message: "its first line is not <!-- title: … -->"))
    }
    let title = String(template[template.index(template.startIndex, offsetBy: prefix.count)..<end.lowerBound])
    let main = template[end.upperBound...].trimmingCharacters(in: .newlines)
    guard layout.contains("{{main}}"), layout.contains("{{current:\(name)}}") else {
      return .failure(Problem(message: "the layout has no {{main}} or no {{current:\(name)}} link"))
    }
    var html = layout.replacingOccurrences(of: "{{title}}", with: title)
      .replacingOccurrences(of: "{{page}}", with: name)
      .replacingOccurrences(of: "{{key}}", with: siteKey.map { " data-arbiter-key=\"\($0)\"" } ?? "")
    for other in names {
      html = html.replacingOccurrences(of: "{{current:\(other)}}", with: other == name ? " aria-current=\"page\"" : "")
    }
    return .success(html.replacingOccurrences(of: "{{main}}", with: main))
  }

  /// Adds a route for each page (one that could not be made answers 404 saying why).
  func addRoutes(to router: Router<ArbiterRequestContext>) {
    for name in Self.names {
      let page = pages[name] ?? .failure(Problem(message: "no template"))
      router.get(RouterPath(stringLiteral: "/site/\(name).html")) { _, _ in
        switch page {
        case .success(let html): return HTTPAPI.page(html)
        case .failure(let problem):
          throw HTTPAPIError(.notFound, "the site page \(name) is not installed: \(problem.message)")
        }
      }
    }
  }
}

/// Keeps the site's templates (``SitePages/templatesPath``) from being served as files.
struct SiteTemplatesMiddleware: RouterMiddleware {
  typealias Context = ArbiterRequestContext

  func handle(
    _ request: Request, context: ArbiterRequestContext,
    next: (Request, ArbiterRequestContext) async throws -> Response
  ) async throws -> Response {
    // As the file middleware will read the path: percent-decoded, empty and "." steps dropped.
    let decoded = request.uri.path.removingPercentEncoding ?? request.uri.path
    let steps = decoded.split(separator: "/").filter { $0 != "." }
    if ("/" + steps.joined(separator: "/") + "/").hasPrefix(SitePages.templatesPath) {
      throw HTTPAPIError(.notFound, "no such path: \(request.uri.path)")
    }
    return try await next(request, context)
  }
}
