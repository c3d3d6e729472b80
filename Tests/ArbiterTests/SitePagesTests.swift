import Foundation
import HTTPTypes
import Testing

@testable import ArbiterHTTP

/// The demo site's pages as the door composes them from the layout and each page's template.
@Suite struct SitePagesTests {
  let server = try! TestSupport.makeServer()

  @Test func eachPageIsTheLayoutWithItsTitleNameAndCurrentLink() async throws {
    let client = HTTPTestClient(api: server.httpAPI, webRoot: HTTPServerService.builtInWebRoot)
    let titles = [
      "home": "Personal banking", "cards": "Credit cards", "savings": "Savings", "mortgages": "Mortgages",
    ]
    for (name, title) in titles {
      let page = try await client.get("/site/\(name).html")
      #expect(page.status == 200)
      #expect(page.headers[.contentType] == "text/html; charset=utf-8")
      let html = page.text
      #expect(html.contains("<title>\(title) · Northbank</title>"), "\(name)")
      #expect(html.contains(#"data-arbiter-page="\#(name)""#), "\(name)")
      #expect(html.contains(#"<a href="/site/\#(name).html" aria-current="page">"#), "\(name)")
      #expect(html.components(separatedBy: "aria-current").count == 2, "one current link on \(name)")
      #expect(!html.contains("{{"), "a placeholder left on \(name)")
      #expect(html.contains("<main>") && html.contains("</main>") && html.contains("data-arbiter-slot"))
      #expect(html.hasPrefix("<!doctype html>") && html.hasSuffix("</html>\n"))
    }
    // The shared files are still served as files.
    #expect(try await client.get("/site/site.css").status == 200)
  }

  @Test func theTemplatesThemselvesAreNotServed() async throws {
    let client = HTTPTestClient(api: server.httpAPI, webRoot: HTTPServerService.builtInWebRoot)
    for path in [
      "/site/templates/layout.html", "/site/templates/cards.html", "/site/%74emplates/layout.html",
      "//site/./templates/home.html",
    ] {
      let answer = try await client.get(path)
      #expect(answer.status == 404, "\(path)")
      #expect(!answer.text.contains("{{"), "\(path)")
    }
  }

  @Test func aMissingOrMalformedTemplateIsSaidPlainly() async throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("site-\(UUID())")
    try FileManager.default.createDirectory(
      at: folder.appendingPathComponent("site/templates"), withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let client = HTTPTestClient(api: server.httpAPI, webRoot: folder.path)
    let missing = try await client.get("/site/cards.html")
    #expect(missing.status == 404)
    #expect((missing.json["message"] as? String ?? "").contains("layout.html cannot be read"), "\(missing.text)")

    let layout = #"<title>{{title}}</title><a href="/site/home.html"{{current:home}}>Home</a>{{main}}"#
    switch SitePages.compose(layout: layout, name: "home", template: "<main>no title line</main>") {
    case .success: Issue.record("a template without its title line was accepted")
    case .failure(let problem): #expect(problem.message.contains("<!-- title: … -->"))
    }
    switch SitePages.compose(layout: layout, name: "cards", template: "<!-- title: Cards -->\n<main></main>") {
    case .success: Issue.record("a layout without the page's link was accepted")
    case .failure(let problem): #expect(problem.message.contains("{{current:cards}}"))
    }
    let home = try SitePages.compose(layout: layout, name: "home", template: "<!-- title: Home -->\n<main>hi</main>\n")
      .get()
    #expect(home == #"<title>Home</title><a href="/site/home.html" aria-current="page">Home</a><main>hi</main>"#)
  }
}
