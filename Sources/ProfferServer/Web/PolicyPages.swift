import Foundation
import Hummingbird
import ProfferCore
import ProfferStorage

/// "Terms and rules": the terms the person proffers to every organisation, their standing rules, and how those
/// would decide the requests they have had.
struct PolicyPages: Sendable {
    let pages: WebPages
    var services: Services { pages.services }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/terms", use: show)
        router.post("/terms", use: saveTerms)
        router.post("/rules", use: addRule)
        router.post("/rules/{ruleId}/remove", use: removeRule)
    }

    private func page(_ visit: Visit, person: Person, typedTerms: FormData? = nil, termErrors: [String] = [], typedRule: FormData? = nil,
                      ruleErrors: [String: String] = [:], status: HTTPResponse.Status = .ok) async throws -> Response {
        let proffered = try await services.proffered(by: person.id)
        let terms: [[String: Any]] = services.terms.definitions.map { definition in
            let mine = proffered.first { $0.id == definition.id }
            let chosen = typedTerms.map { $0.all("term").contains(definition.id.rawValue) } ?? (mine != nil)
            return [
                "id": definition.id.rawValue, "title": definition.title, "text": definition.text(with: mine?.parameters ?? [:]), "chosen": chosen,
                "parameters": definition.parameters.map { parameter -> [String: Any] in
                    let name = "param.\(definition.id.rawValue).\(parameter.name)"
                    let value = typedTerms?[name] ?? String(mine?.value(parameter.name) ?? parameter.defaultValue)
                    return ["name": name, "id": "f-" + name.replacingOccurrences(of: ".", with: "-"), "label": "\(parameter.name.capitalized) (\(parameter.unit))",
                            "value": value, "min": parameter.minimum, "max": parameter.maximum]
                },
            ]
        }
        let rules = try await services.store.rules(of: person.id).map { rule -> [String: Any] in
            ["id": rule.id.rawValue, "summary": rule.summary, "note": rule.note ?? "", "action": rule.action.rawValue]
        }
        let previews = try await services.rulePreview(for: person, limit: 20).map { preview -> [String: Any] in
            ["organisation": preview.organisation.name, "purpose": services.purposes.purpose(preview.request.purpose)?.label ?? preview.request.purpose,
             "actual": preview.request.state.rawValue, "wouldBe": Self.outcomeWords[preview.outcome] ?? preview.outcome, "explanation": preview.explanation,
             "id": preview.request.id.rawValue]
        }
        let purpose = typedRule?["purpose"] ?? ""
        let view: [String: Any] = [
            "terms": terms, "termErrors": termErrors.map { ["message": $0] }, "hasTermErrors": !termErrors.isEmpty,
            "rules": rules, "hasRules": !rules.isEmpty, "previews": previews, "hasPreviews": !previews.isEmpty,
            "purposes": services.purposes.purposes.map { ["value": $0.id, "label": $0.label, "selected": $0.id == purpose] },
            "ruleAction": ["grant", "refuse", "ask"].map { ["value": $0, "label": Self.actionWords[$0] ?? $0, "selected": $0 == (typedRule?["action"] ?? "grant")] },
            "verifiedOptions": [("", "Any organisation"), ("true", "Only verified organisations"), ("false", "Only unverified organisations")]
                .map { ["value": $0.0, "label": $0.1, "selected": $0.0 == (typedRule?["verified"] ?? "")] },
            "ruleKeys": typedRule?["keys"] ?? "", "ruleDays": typedRule?["maxDurationDays"] ?? "", "ruleNote": typedRule?["note"] ?? "",
            "errors": ruleErrors, "saved": visit.request.uri.queryParameters["saved"].map(String.init) ?? "",
        ]
        return visit.render("terms", title: "Terms and rules", nav: "terms", status: status, view)
    }

    static let actionWords = ["grant": "Grant without asking me", "refuse": "Refuse without asking me", "ask": "Always ask me"]
    static let outcomeWords = ["refused-by-terms": "refused by your terms", "refused-by-rule": "refused by a rule",
                               "granted-by-rule": "granted by a rule", "ask": "you would be asked"]

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.signedIn(request) { visit, person in
            return try await page(visit, person: person)
        }
    }

    @Sendable func saveTerms(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.signedIn(request) { visit, person in
            let form = try await visit.form()
            var chosen: [ProfferedTerm] = []
            var problems: [String] = []
            for raw in form.all("term") {
                guard let id = TermID(rawValue: raw) else { problems.append("Unknown term \(raw.prefix(40))."); continue }
                var parameters: [String: Int] = [:]
                for parameter in services.terms.definition(id).parameters {
                    let text = form["param.\(id.rawValue).\(parameter.name)"] ?? ""
                    guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
                        problems.append("\(services.terms.definition(id).title): \(parameter.name) must be a whole number of \(parameter.unit).")
                        continue
                    }
                    parameters[parameter.name] = value
                }
                chosen.append(ProfferedTerm(id: id, parameters: parameters))
            }
            problems += services.terms.validate(chosen).map { error in
                let index = Int(error.pointer.split(separator: "/").dropFirst().first ?? "") ?? 0
                let title = chosen.indices.contains(index) ? services.terms.definition(chosen[index].id).title : "A term"
                return "\(title): \(error.detail.capitalisedSentence)"
            }
            if !problems.isEmpty {
                return try await page(visit, person: person, typedTerms: form, termErrors: problems, status: .unprocessableContent)
            }
            try await services.store.setTerms(chosen, of: person.id, at: .now())
            return visit.redirect("/terms?saved=terms")
        }
    }

    @Sendable func addRule(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.signedIn(request) { visit, person in
            let form = try await visit.form()
            var errors: [String: String] = [:]
            let action = form["action"].flatMap(RuleAction.init(rawValue:))
            if action == nil { errors["action"] = "Choose what the rule does." }
            let patterns = (form["keys"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            let keys = patterns.compactMap { KeyPattern($0, catalogue: services.catalogue) }
            if patterns.isEmpty {
                errors["keys"] = "List at least one key (contact.email), category (finance.*) or * for everything."
            } else if keys.count != patterns.count {
                errors["keys"] = "Not in the catalogue: " + patterns.filter { KeyPattern($0, catalogue: services.catalogue) == nil }.joined(separator: ", ") + "."
            }
            var days: Int?
            if let text = form.text("maxDurationDays") {
                days = Int(text)
                if days == nil { errors["maxDurationDays"] = "Enter a whole number of days, or leave it empty." }
            }
            if errors.isEmpty, let action {
                let verified: Bool? = switch form["verified"] { case "true": true; case "false": false; default: nil }
                let rule = DecisionRule(id: .generate(), action: action, keys: keys, purposes: form.text("purpose").map { [$0] } ?? [],
                                        organisationVerified: verified, maxDurationDays: days, note: form.text("note"), createdAt: .now())
                do {
                    _ = try await services.addRule(rule, for: person)
                    return visit.redirect("/terms?saved=rule#rules")
                } catch let failure as ValidationFailure {
                    errors = fieldErrors(failure)
                }
            }
            return try await page(visit, person: person, typedRule: form, ruleErrors: errors, status: .unprocessableContent)
        }
    }

    @Sendable func removeRule(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await pages.signedIn(request) { visit, person in
            _ = try await visit.form()
            guard let id = RuleID(context.parameters.get("ruleId") ?? "") else { throw WebFailure(.notFound, "You have no such rule.") }
            try await services.store.removeRule(id, of: person.id, at: .now())
            return visit.redirect("/terms?saved=removed#rules")
        }
    }
}
