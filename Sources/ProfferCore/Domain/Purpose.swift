/// A purpose an organisation may state for processing, taken from the W3C Data Privacy Vocabulary.
public struct Purpose: Sendable, Hashable, Codable {
    /// Stable id: the DPV concept name, e.g. `ServiceProvision`.
    public let id: String
    public let iri: String
    public let label: String
    public let description: String
    /// The id of the broader purpose, nil for a top-level purpose.
    public let parent: String?

    init(_ id: String, _ label: String, parent: String?, _ description: String) {
        self.id = id
        self.iri = "https://w3id.org/dpv#" + id
        self.label = label
        self.parent = parent
        self.description = description
    }
}

/// The published purpose taxonomy (a subset of DPV's purpose hierarchy).
public struct PurposeTaxonomy: Sendable {
    public let purposes: [Purpose]
    private let byID: [String: Purpose]

    public init(_ purposes: [Purpose]) {
        self.purposes = purposes
        self.byID = Dictionary(uniqueKeysWithValues: purposes.map { ($0.id, $0) })
    }

    public func purpose(_ id: String) -> Purpose? { byID[id] }

    /// True when `id` is `ancestor` or lies beneath it in the taxonomy.
    public func isPurpose(_ id: String, within ancestor: String) -> Bool {
        var current: String? = id
        while let candidate = current {
            if candidate == ancestor { return true }
            current = byID[candidate]?.parent
        }
        return false
    }

    public static let standard = PurposeTaxonomy([
        Purpose("ServiceProvision", "Service provision", parent: nil, "Providing the service the person asked for."),
        Purpose("ServicePersonalisation", "Service personalisation", parent: "ServiceProvision", "Tailoring the service to the person."),
        Purpose("Personalisation", "Personalisation", parent: nil, "Personalising anything for the person."),
        Purpose("PaymentManagement", "Payment management", parent: "ServiceProvision", "Processing and managing payments for the service."),
        Purpose("DeliveryOfGoods", "Delivery of goods", parent: "ServiceProvision", "Delivering goods the person bought."),
        Purpose("CustomerManagement", "Customer management", parent: nil, "Managing the relationship with a customer."),
        Purpose("CustomerCare", "Customer care", parent: "CustomerManagement", "Helping the person with questions and problems."),
        Purpose("CommunicationForCustomerCare", "Communication for customer care", parent: "CustomerCare", "Contacting the person about their service."),
        Purpose("Marketing", "Marketing", parent: nil, "Promoting products or services."),
        Purpose("DirectMarketing", "Direct marketing", parent: "Marketing", "Marketing sent directly to the person."),
        Purpose("Advertising", "Advertising", parent: "Marketing", "Showing advertisements."),
        Purpose("PersonalisedAdvertising", "Personalised advertising", parent: "Advertising", "Advertising tailored to the person's profile."),
        Purpose("EnforceSecurity", "Security", parent: nil, "Keeping systems and people safe."),
        Purpose("FraudPreventionAndDetection", "Fraud prevention and detection", parent: "EnforceSecurity", "Preventing and detecting fraud."),
        Purpose("IdentityVerification", "Identity verification", parent: "EnforceSecurity", "Verifying that the person is who they claim to be."),
        Purpose("LegalCompliance", "Legal compliance", parent: nil, "Meeting a legal obligation."),
        Purpose("CustomerSolvencyMonitoring", "Customer solvency monitoring", parent: "CustomerManagement", "Monitoring whether a customer can pay."),
        Purpose("CreditChecking", "Credit checking", parent: "CustomerSolvencyMonitoring", "Assessing creditworthiness before lending."),
        Purpose("ResearchAndDevelopment", "Research and development", parent: nil, "Research and building new products."),
        Purpose("AcademicResearch", "Academic research", parent: "ResearchAndDevelopment", "Research by academic institutions."),
        Purpose("CommercialResearch", "Commercial research", parent: "ResearchAndDevelopment", "Research for commercial ends."),
        Purpose("HumanResourceManagement", "Human resource management", parent: nil, "Managing employees and applicants."),
        Purpose("RecruitmentProcess", "Recruitment", parent: "HumanResourceManagement", "Assessing job applicants."),
        Purpose("EducationalTraining", "Education and training", parent: "ServiceProvision", "Providing education or training."),
    ])
}
