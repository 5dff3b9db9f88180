//! The cases of Revenu Québec's test-case document (SW-77 §3.2–§3.5, annexe A), step by step:
//! who acts, what the request must carry, which sectors run the step, and whether the document it
//! produces is kept as evidence. Twin cases (`0xx`/`5xx`, `1xx`/`6xx`) share one table.

use super::Holder::{FirstOperator as First, SecondOperator as Second, ServerAdministrator};
use super::Sectors::{Both, Rbc, Trp};
use super::{Block, Case, CertificateAction as C, Expect, Holder, Sectors, StepDef, Want};

const fn step(
    n: u8,
    sectors: Sectors,
    expect: Expect,
    pdf: bool,
    en: &'static str,
    fr: &'static str,
) -> StepDef {
    StepDef {
        n,
        sectors,
        expect,
        pdf,
        en,
        fr,
    }
}

const fn enrol(holder: Holder, key: &'static str, new_device: bool, server: bool) -> Expect {
    Expect::Certificate {
        action: C::Enrol { new_device },
        holder,
        key,
        server,
    }
}

const fn change(action: C, key: &'static str) -> Expect {
    Expect::Certificate {
        action,
        holder: First,
        key,
        server: false,
    }
}

const fn user(modification: &'static str, name: &'static str, holder: Holder) -> Expect {
    Expect::User {
        modification,
        name: Some(name),
        holder,
        server: false,
    }
}

const fn tx(wants: &'static [Want]) -> Expect {
    Expect::Transaction(wants)
}

const ADDI: Want = Want::Field("typTrans", &["ADDI"]);
const RFER: Want = Want::Field("typTrans", &["RFER"]);
const ESTM: Want = Want::Field("typTrans", &["ESTM"]);
const SOUM: Want = Want::Field("typTrans", &["SOUM"]);
const FAC: Want = Want::Field("modImpr", &["FAC"]);
const RPR: Want = Want::Field("modImpr", &["RPR"]);
const DUP: Want = Want::Field("modImpr", &["DUP"]);
const ANN: Want = Want::Field("modImpr", &["ANN"]);
const PSP: Want = Want::Field("modImpr", &["PSP"]);
const SOB: Want = Want::Field("modPai", &["SOB"]);
const ARG: Want = Want::Field("modPai", &["ARG"]);
const AUC: Want = Want::Field("modPai", &["AUC"]);
const NON: Want = Want::Field("formImpr", &["NON"]);
const PRINTED: Want = Want::Field("formImpr", &["PAP", "ELE", "PEL"]);
const CMP: Want = Want::Field("sectActi.typServ", &["CMP"]);
const TBL: Want = Want::Field("sectActi.typServ", &["TBL"]);
const LVR: Want = Want::Field("sectActi.typServ", &["LVR"]);
const LVT: Want = Want::Field("sectActi.typServ", &["LVT"]);
const FOR: Want = Want::Field("modTrans", &["FOR"]);
const OPE: Want = Want::Field("modTrans", &["OPE"]);
const REFS: Want = Want::References;
const CURRENT_AND_BATCH: Want = Want::Batch {
    current: true,
    at_least: 1,
};

/// Every case, in the order of the run within each block (the SRS mode's before the server
/// mode's is decided by [`super::plan`]).
#[rustfmt::skip]
pub(super) const CASES: &[Case] = &[
    // ---- Certificates (SW-77 §3.2) ----
    Case {
        srs: None,
        server: Some(500),
        block: Block::Certificates,
        en: "Server certificates",
        fr: "Certificats du serveur",
        steps: &[
            step(1, Both, enrol(ServerAdministrator, "Certificat du serveur", true, true), false, "Add the server's certificate (authorization code FOB-…).", "Ajouter le certificat du serveur (code d'autorisation FOB-…)."),
            step(2, Both, Expect::Certificate { action: C::Replace, holder: ServerAdministrator, key: "Certificat du serveur", server: true, }, false, "Replace the server's certificate.", "Remplacer le certificat du serveur."),
            step(3, Both, Expect::Certificate { action: C::Delete, holder: ServerAdministrator, key: "Certificat du serveur", server: true, }, false, "Delete the server's certificate.", "Supprimer le certificat du serveur."),
            step(4, Both, enrol(ServerAdministrator, "Certificat du serveur", false, true), false, "Add the server's certificate again: later server cases use it.", "Ajouter de nouveau le certificat du serveur : les cas suivants en mode serveur l'utilisent."),
        ],
    },
    Case {
        srs: Some(1),
        server: Some(501),
        block: Block::Certificates,
        en: "SRS certificates",
        fr: "Certificats du SEV",
        steps: &[
            step(1, Both, enrol(First, "Certificat A", true, false), false, "Michel Untel enr., device 1: add a certificate; answer no to \"Do you have an identifier for this device?\".", "Michel Untel enr., appareil 1 : ajouter un certificat ; répondre non à « Avez-vous un identifiant pour cet appareil ? »."),
            step(2, Both, change(C::Replace, "Certificat A"), false, "Device 1: replace the certificate (the SRS asks to confirm).", "Appareil 1 : remplacer le certificat (le SEV demande de confirmer)."),
            step(3, Both, change(C::Delete, "Certificat A"), false, "Device 1: delete the certificate (the SRS asks to confirm).", "Appareil 1 : supprimer le certificat (le SEV demande de confirmer)."),
            step(4, Both, enrol(First, "Certificat A", false, false), false, "Device 1: add a certificate again with the device's identifier: most later cases use it.", "Appareil 1 : ajouter de nouveau un certificat avec l'identifiant de l'appareil : la plupart des cas suivants l'utilisent."),
            step(5, Both, enrol(First, "Certificat B", true, false), false, "Michel Untel enr., device 2: add a certificate (a new device).", "Michel Untel enr., appareil 2 : ajouter un certificat (un nouvel appareil)."),
            step(6, Both, enrol(Second, "Certificat C", false, false), false, "Express Taxe, device 1: add a certificate with device 1's identifier.", "Express Taxe, appareil 1 : ajouter un certificat avec l'identifiant de l'appareil 1."),
            step(7, Both, enrol(First, "Certificat D", false, true), false, "Michel Untel enr., device 1 in server mode: the server adds its certificate (APPRLINIT SRV, the administrator's FOB code).", "Michel Untel enr., appareil 1 en mode serveur : le serveur ajoute son certificat (APPRLINIT SRV, le code FOB de l'administrateur)."),
            step(8, Rbc, enrol(First, "Certificat E", true, false), false, "Michel Untel enr., device 3: add a certificate (a new device).", "Michel Untel enr., appareil 3 : ajouter un certificat (un nouvel appareil)."),
        ],
    },
    // ---- Users (SW-77 §3.3) ----
    Case {
        srs: None,
        server: Some(570),
        block: Block::Users,
        en: "Validate tax numbers",
        fr: "Valider les numéros de taxes",
        steps: &[step(
            1,
            Trp,
            Expect::User {
                modification: "VAL",
                name: None,
                holder: First,
                server: true,
            },
            false,
            "The server validates Michel Untel enr.'s tax numbers with its certificate (APPRLINIT SRV).",
            "Le serveur valide les numéros de taxes de Michel Untel enr. avec son certificat (APPRLINIT SRV).",
        )],
    },
    Case {
        srs: Some(2),
        server: Some(502),
        block: Block::Users,
        en: "User accounts",
        fr: "Comptes d'utilisateurs",
        steps: &[
            step(1, Both, user("AJO", "Michel Untel", First), false, "Device 1: create the user Michel Untel.", "Appareil 1 : créer l'utilisateur Michel Untel."),
            step(2, Both, user("SUP", "Michel Untel", First), false, "Device 1: delete the user Michel Untel (the SRS asks to confirm).", "Appareil 1 : supprimer l'utilisateur Michel Untel (le SEV demande de confirmer)."),
            step(3, Both, user("AJO", "Michel Untel", First), false, "Device 1: create the user Michel Untel again.", "Appareil 1 : créer de nouveau l'utilisateur Michel Untel."),
            step(4, Both, user("AJO", "John Smith", First), false, "Device 1: create a second user, John Smith.", "Appareil 1 : créer un deuxième utilisateur, John Smith."),
            step(5, Trp, user("AJO", "Michel Untel", First), false, "Device 2: create the user Michel Untel.", "Appareil 2 : créer l'utilisateur Michel Untel."),
            step(6, Both, user("AJO", "Joe Bleau", Second), false, "Express Taxe, device 1: create the user Joe Bleau.", "Express Taxe, appareil 1 : créer l'utilisateur Joe Bleau."),
            step(7, Both, Expect::User { modification: "VAL", name: None, holder: First, server: true, }, false, "Device 1 in server mode: the server validates Michel Untel enr.'s tax numbers (APPRLINIT SRV; a server may only validate).", "Appareil 1 en mode serveur : le serveur valide les numéros de taxes de Michel Untel enr. (APPRLINIT SRV ; un serveur ne peut que valider)."),
        ],
    },
    // ---- Transactions (SW-77 §3.4) ----
    Case {
        srs: Some(3),
        server: Some(503),
        block: Block::Transactions,
        en: "Reproduce a bill",
        fr: "Reproduire une facture",
        steps: &[
            step(1, Both, tx(&[ADDI, SOB, FAC]), true, "Produce an addition.", "Produire une addition."),
            step(2, Both, tx(&[ADDI, RPR]), true, "Reproduce the step-01 addition.", "Reproduire l'addition de l'étape 01."),
            step(3, Both, tx(&[RFER, ARG, REFS]), false, "Closing receipt for the step-01 addition, in cash.", "Reçu de fermeture de l'addition de l'étape 01, en argent."),
            step(4, Both, tx(&[ADDI, FAC]), true, "Produce an addition.", "Produire une addition."),
            step(5, Both, tx(&[ADDI, DUP]), true, "Duplicate of the step-04 addition.", "Duplicata de l'addition de l'étape 04."),
            step(6, Both, tx(&[RFER, ARG, REFS]), false, "Closing receipt for the step-04 addition, in cash.", "Reçu de fermeture de l'addition de l'étape 04, en argent."),
            step(7, Both, tx(&[RFER, FAC]), true, "Produce a closing receipt.", "Produire un reçu de fermeture."),
            step(8, Both, tx(&[RFER, RPR]), true, "Reproduce the step-07 receipt.", "Reproduire le reçu de l'étape 07."),
            step(9, Both, tx(&[RFER, FAC]), true, "Produce a closing receipt.", "Produire un reçu de fermeture."),
            step(10, Both, tx(&[RFER, DUP]), true, "Duplicate of the step-09 receipt.", "Duplicata du reçu de l'étape 09."),
            step(11, Rbc, tx(&[ADDI, FAC, CMP]), true, "Device 3: an addition, counter service.", "Appareil 3 : une addition, service au comptoir."),
            step(12, Rbc, tx(&[ADDI, RPR]), true, "Device 3: reproduce it.", "Appareil 3 : la reproduire."),
            step(13, Rbc, tx(&[RFER, ARG, REFS]), false, "Device 3: closing receipt for it, in cash.", "Appareil 3 : son reçu de fermeture, en argent."),
            step(14, Rbc, tx(&[ADDI, FAC, CMP]), false, "Device 3: an addition, counter service.", "Appareil 3 : une addition, service au comptoir."),
            step(15, Rbc, tx(&[ADDI, DUP]), false, "Device 3: duplicate of the step-14 addition.", "Appareil 3 : duplicata de l'addition de l'étape 14."),
            step(16, Rbc, tx(&[RFER, ARG, REFS]), false, "Device 3: closing receipt for the step-14 addition.", "Appareil 3 : reçu de fermeture de l'addition de l'étape 14."),
            step(17, Rbc, tx(&[RFER, FAC, CMP]), false, "Device 3: a closing receipt, counter service.", "Appareil 3 : un reçu de fermeture, service au comptoir."),
            step(18, Rbc, tx(&[RFER, RPR]), false, "Device 3: reproduce the step-17 receipt.", "Appareil 3 : reproduire le reçu de l'étape 17."),
            step(19, Rbc, tx(&[RFER, FAC, CMP]), false, "Device 3: a closing receipt, counter service.", "Appareil 3 : un reçu de fermeture, service au comptoir."),
            step(20, Rbc, tx(&[RFER, DUP]), false, "Device 3: duplicate of the step-19 receipt.", "Appareil 3 : duplicata du reçu de l'étape 19."),
        ],
    },
    Case {
        srs: Some(4),
        server: Some(504),
        block: Block::Transactions,
        en: "Cancel a transaction",
        fr: "Annuler une transaction",
        steps: &[
            step(1, Both, tx(&[ADDI, SOB, ANN, NON]), false, "Start an addition, fill every field, then cancel it.", "Commencer une addition, remplir tous les champs, puis l'annuler."),
            step(2, Both, tx(&[RFER, AUC, ANN, NON]), false, "Start a closing receipt, add an item, remove it, then cancel.", "Commencer un reçu de fermeture, ajouter un article, le retirer, puis annuler."),
            step(3, Both, tx(&[ADDI, FAC]), true, "Produce an addition (every item with the same tax).", "Produire une addition (tous les articles avec la même taxe)."),
            step(4, Both, tx(&[RFER, AUC, REFS]), true, "Cancel the step-03 addition (an Annulation item at minus the subtotal).", "Annuler l'addition de l'étape 03 (un article Annulation au négatif du sous-total)."),
            step(5, Both, tx(&[ESTM]), false, "Produce an estimate.", "Produire un estimé."),
            step(6, Both, tx(&[RFER, AUC, NON, REFS]), false, "Cancel the step-05 estimate without printing.", "Annuler l'estimé de l'étape 05 sans l'imprimer."),
            step(7, Rbc, tx(&[ADDI, ANN, NON, CMP]), false, "Device 3: cancel an addition during entry, counter service.", "Appareil 3 : annuler une addition en cours de saisie, service au comptoir."),
            step(8, Rbc, tx(&[RFER, AUC, ANN, NON, CMP]), false, "Device 3: cancel a receipt during entry.", "Appareil 3 : annuler un reçu en cours de saisie."),
            step(9, Rbc, tx(&[ADDI, CMP]), false, "Device 3: an addition, counter service.", "Appareil 3 : une addition, service au comptoir."),
            step(10, Rbc, tx(&[RFER, AUC, REFS]), false, "Device 3: cancel the step-09 addition.", "Appareil 3 : annuler l'addition de l'étape 09."),
        ],
    },
    Case {
        srs: Some(5),
        server: Some(505),
        block: Block::Transactions,
        en: "Correct a closing receipt",
        fr: "Corriger un reçu de fermeture",
        steps: &[
            step(1, Both, tx(&[RFER, ARG]), true, "A closing receipt in cash.", "Un reçu de fermeture en argent."),
            step(2, Both, tx(&[RFER, NON, REFS]), false, "The reverse transaction, sent by the SRS itself.", "La transaction inverse, envoyée par le SEV lui-même."),
            step(3, Both, tx(&[RFER, REFS]), true, "A new receipt with another payment mode, referring to the reverse transaction.", "Un nouveau reçu avec un autre mode de paiement, qui renvoie à la transaction inverse."),
            step(4, Rbc, tx(&[RFER, CMP]), false, "Device 3: a closing receipt, counter service.", "Appareil 3 : un reçu de fermeture, service au comptoir."),
            step(5, Rbc, tx(&[RFER, NON, REFS]), false, "Device 3: the reverse transaction.", "Appareil 3 : la transaction inverse."),
            step(6, Rbc, tx(&[RFER, REFS]), false, "Device 3: a new receipt with another payment mode.", "Appareil 3 : un nouveau reçu avec un autre mode de paiement."),
        ],
    },
    Case {
        srs: Some(6),
        server: Some(506),
        block: Block::Transactions,
        en: "Credit notes",
        fr: "Notes de crédit",
        steps: &[
            step(1, Both, tx(&[RFER, ARG]), true, "A closing receipt of at least $20 with two items or more.", "Un reçu de fermeture d'au moins 20 $ avec au moins deux articles."),
            step(2, Both, tx(&[REFS]), true, "A partial credit note on the step-01 receipt.", "Une note de crédit partielle sur le reçu de l'étape 01."),
            step(3, Both, tx(&[RFER]), false, "A closing receipt of at least $20.", "Un reçu de fermeture d'au moins 20 $."),
            step(4, Both, tx(&[REFS]), false, "A full credit note on the step-03 receipt.", "Une note de crédit complète sur le reçu de l'étape 03."),
            step(5, Rbc, tx(&[RFER, CMP]), true, "Device 3: a closing receipt of at least $20, counter service.", "Appareil 3 : un reçu de fermeture d'au moins 20 $, service au comptoir."),
            step(6, Rbc, tx(&[REFS]), true, "Device 3: a partial credit note.", "Appareil 3 : une note de crédit partielle."),
            step(7, Rbc, tx(&[RFER, CMP]), false, "Device 3: a closing receipt of at least $20.", "Appareil 3 : un reçu de fermeture d'au moins 20 $."),
            step(8, Rbc, tx(&[REFS]), false, "Device 3: a full credit note.", "Appareil 3 : une note de crédit complète."),
        ],
    },
    Case {
        srs: Some(7),
        server: Some(507),
        block: Block::Transactions,
        en: "Customer left without paying",
        fr: "Client parti sans payer",
        steps: &[
            step(1, Trp, tx(&[RFER, AUC, PSP, NON]), false, "A closing receipt not printed: the customer left without paying.", "Un reçu de fermeture non imprimé : le client est parti sans payer."),
            step(2, Rbc, tx(&[ADDI, SOB, FAC]), false, "An addition.", "Une addition."),
            step(3, Rbc, tx(&[RFER, AUC, PSP, NON, REFS]), false, "The receipt for the step-02 addition, not printed: the customer left.", "Le reçu de l'addition de l'étape 02, non imprimé : le client est parti."),
        ],
    },
    Case {
        srs: Some(8),
        server: Some(508),
        block: Block::Transactions,
        en: "Training mode",
        fr: "Mode formation",
        steps: &[
            step(1, Both, tx(&[RFER, FOR]), true, "In training mode: a closing receipt, $4.37 before taxes.", "En mode formation : un reçu de fermeture, 4,37 $ avant taxes."),
            step(2, Both, tx(&[RFER, FOR]), false, "In training mode: a closing receipt, $8.71 before taxes.", "En mode formation : un reçu de fermeture, 8,71 $ avant taxes."),
            step(3, Both, tx(&[ADDI, FOR]), false, "In training mode: an addition.", "En mode formation : une addition."),
            step(4, Both, tx(&[RFER, FOR, REFS]), false, "In training mode: the receipt for step 03, with another item.", "En mode formation : le reçu de l'étape 03, avec un autre article."),
            step(5, Rbc, tx(&[RFER, FOR, CMP]), false, "Device 3, training mode: a receipt, counter service.", "Appareil 3, mode formation : un reçu, service au comptoir."),
            step(6, Rbc, tx(&[RFER, FOR, CMP]), false, "Device 3, training mode: a receipt, counter service.", "Appareil 3, mode formation : un reçu, service au comptoir."),
        ],
    },
    Case {
        srs: Some(9),
        server: Some(509),
        block: Block::Transactions,
        en: "Offline bills",
        fr: "Factures hors ligne",
        steps: &[
            step(1, Both, tx(&[OPE, CURRENT_AND_BATCH]), true, "Offline, Michel Untel makes a receipt; online again, John Smith makes one: both go together.", "Hors ligne, Michel Untel fait un reçu ; de retour en ligne, John Smith en fait un : les deux partent ensemble."),
            step(2, Both, tx(&[OPE, CURRENT_AND_BATCH]), true, "Offline, a receipt; online again, another.", "Hors ligne, un reçu ; de retour en ligne, un autre."),
            step(3, Both, tx(&[OPE, CURRENT_AND_BATCH]), false, "Offline, Michel Untel enr.'s receipt; online again, Express Taxe's.", "Hors ligne, un reçu de Michel Untel enr. ; de retour en ligne, un reçu d'Express Taxe."),
            step(5, Both, tx(&[Want::Batch { current: false, at_least: 3, }]), true, "Offline, three receipts; online again, send the batch by hand.", "Hors ligne, trois reçus ; de retour en ligne, envoyer le lot manuellement."),
            step(6, Both, tx(&[Want::Batch { current: true, at_least: 3, }]), false, "Offline, an addition, its receipt and a second addition; online again, the second one's receipt.", "Hors ligne, une addition, son reçu et une deuxième addition ; de retour en ligne, le reçu de la deuxième."),
            step(7, Rbc, tx(&[CURRENT_AND_BATCH, CMP]), false, "Device 3 offline, then online: counter receipts of two users.", "Appareil 3 hors ligne, puis en ligne : reçus au comptoir de deux utilisateurs."),
            step(8, Rbc, tx(&[CURRENT_AND_BATCH, CMP]), false, "Device 3 offline, then online: counter receipts.", "Appareil 3 hors ligne, puis en ligne : reçus au comptoir."),
            step(9, Rbc, tx(&[ Want::Batch { current: true, at_least: 3, }, CMP, ]), false, "Device 3 offline: addition, receipt, second addition; online: its receipt.", "Appareil 3 hors ligne : addition, reçu, deuxième addition ; en ligne : son reçu."),
        ],
    },
    Case {
        srs: Some(10),
        server: Some(510),
        block: Block::Transactions,
        en: "Additions",
        fr: "Additions",
        steps: &[
            step(8, Both, tx(&[ADDI]), true, "Device 1: an addition.", "Appareil 1 : une addition."),
            step(9, Both, tx(&[RFER, ARG, REFS]), true, "Device 2: the closing receipt for the step-08 addition.", "Appareil 2 : le reçu de fermeture de l'addition de l'étape 08."),
            step(10, Rbc, tx(&[ADDI, TBL, SOB]), false, "An addition, table service.", "Une addition, service aux tables."),
            step(11, Rbc, tx(&[RFER, TBL, ARG, REFS]), true, "Its receipt.", "Son reçu."),
            step(12, Rbc, tx(&[ADDI, CMP, SOB]), false, "An addition, counter service.", "Une addition, service au comptoir."),
            step(13, Rbc, tx(&[RFER, CMP, ARG, REFS]), false, "Its receipt.", "Son reçu."),
            step(14, Rbc, tx(&[ADDI, LVR, SOB]), false, "An addition, delivered by the operator.", "Une addition, livraison par l'exploitant."),
            step(15, Rbc, tx(&[RFER, LVR, ARG, REFS]), false, "Its receipt.", "Son reçu."),
            step(16, Rbc, tx(&[ADDI, LVT, SOB]), false, "An addition, a digital-platform order.", "Une addition, une commande d'une plateforme numérique."),
            step(17, Rbc, tx(&[RFER, LVT, ARG, REFS]), true, "Its receipt.", "Son reçu."),
            step(18, Rbc, tx(&[ADDI, CMP]), false, "Device 3: an addition, counter service.", "Appareil 3 : une addition, service au comptoir."),
            step(19, Rbc, tx(&[RFER, CMP, ARG, REFS]), false, "Device 3: its receipt.", "Appareil 3 : son reçu."),
        ],
    },
    Case {
        srs: Some(11),
        server: Some(511),
        block: Block::Transactions,
        en: "Tip or service charge",
        fr: "Pourboire ou frais de service",
        steps: &[
            step(1, Both, tx(&[RFER, Want::Present("mont.pourb")]), true, "A closing receipt with a tip.", "Un reçu de fermeture avec un pourboire."),
            step(2, Both, tx(&[RFER]), true, "A closing receipt with service charges (item Frais de service).", "Un reçu de fermeture avec des frais de service (article Frais de service)."),
        ],
    },
    Case {
        srs: None,
        server: Some(512),
        block: Block::Transactions,
        en: "Closing receipt in server mode",
        fr: "Reçu de fermeture en mode serveur",
        steps: &[step(
            1,
            Both,
            tx(&[RFER]),
            false,
            "In server mode: a closing receipt.",
            "En mode serveur : un reçu de fermeture.",
        )],
    },
    Case {
        srs: Some(13),
        server: Some(513),
        block: Block::Transactions,
        en: "Instalments",
        fr: "Versements",
        steps: &[
            step(1, Both, tx(&[RFER, Want::Present("mont.versActu")]), false, "The receipt of the first instalment.", "Le reçu du premier versement."),
            step(2, Both, tx(&[RFER, Want::Present("mont.versActu"), REFS]), false, "The receipt of the second instalment.", "Le reçu du deuxième versement."),
            step(3, Both, tx(&[RFER, Want::Present("mont.versActu"), REFS]), true, "The receipt of the last instalment.", "Le reçu du dernier versement."),
        ],
    },
    Case {
        srs: Some(14),
        server: Some(514),
        block: Block::Transactions,
        en: "Estimates",
        fr: "Estimés",
        steps: &[
            step(1, Both, tx(&[ESTM, FAC]), true, "An estimate.", "Un estimé."),
            step(2, Both, tx(&[ESTM, RPR]), false, "Reproduce it.", "Le reproduire."),
            step(3, Both, tx(&[ESTM, DUP]), false, "A duplicate of it.", "En faire un duplicata."),
            step(4, Both, tx(&[RFER, REFS]), true, "The closing receipt for the step-01 estimate.", "Le reçu de fermeture de l'estimé de l'étape 01."),
            step(5, Both, tx(&[ESTM]), false, "An estimate.", "Un estimé."),
            step(6, Both, tx(&[RFER, REFS]), false, "Device 2: the closing receipt for the step-05 estimate.", "Appareil 2 : le reçu de fermeture de l'estimé de l'étape 05."),
        ],
    },
    Case {
        srs: Some(15),
        server: Some(515),
        block: Block::Transactions,
        en: "Quotations",
        fr: "Soumissions",
        steps: &[
            step(1, Both, tx(&[SOUM, FAC]), true, "A first quotation.", "Une première soumission."),
            step(2, Both, tx(&[SOUM]), false, "A second quotation.", "Une deuxième soumission."),
            step(3, Both, tx(&[SOUM, DUP]), false, "A duplicate of the step-01 quotation.", "Un duplicata de la soumission de l'étape 01."),
            step(4, Both, tx(&[SOUM, RPR]), false, "Reproduce the step-02 quotation.", "Reproduire la soumission de l'étape 02."),
            step(5, Both, tx(&[RFER, REFS]), true, "The closing receipt for the step-01 quotation.", "Le reçu de fermeture de la soumission de l'étape 01."),
            step(6, Both, tx(&[RFER, REFS]), true, "Device 2: the closing receipt for the step-02 quotation.", "Appareil 2 : le reçu de fermeture de la soumission de l'étape 02."),
        ],
    },
    Case {
        srs: Some(16),
        server: Some(516),
        block: Block::Transactions,
        en: "E-commerce sale",
        fr: "Vente en ligne",
        steps: &[step(
            1,
            Both,
            tx(&[RFER, Want::Field("commerElectr", &["O"])]),
            false,
            "A closing receipt for an online sale.",
            "Un reçu de fermeture pour une vente en ligne.",
        )],
    },
    Case {
        srs: Some(17),
        server: Some(517),
        block: Block::Transactions,
        en: "Shared ride",
        fr: "Course partagée",
        steps: &[
            step(1, Trp, tx(&[RFER]), false, "The first passenger's receipt.", "Le reçu du premier passager."),
            step(2, Trp, tx(&[RFER, REFS]), false, "The second passenger's receipt.", "Le reçu du deuxième passager."),
            step(3, Trp, tx(&[RFER, REFS]), true, "The last passenger's receipt.", "Le reçu du dernier passager."),
        ],
    },
    Case {
        srs: Some(18),
        server: Some(518),
        block: Block::Transactions,
        en: "Item not covered",
        fr: "Article non visé",
        steps: &[step(
            1,
            Trp,
            tx(&[RFER]),
            false,
            "A closing receipt with the item Autre.",
            "Un reçu de fermeture avec l'article Autre.",
        )],
    },
    Case {
        srs: Some(19),
        server: Some(519),
        block: Block::Transactions,
        en: "Split a bill",
        fr: "Séparer une facture",
        steps: &[
            step(1, Rbc, tx(&[ADDI]), false, "An addition for two customers.", "Une addition pour deux clients."),
            step(2, Rbc, tx(&[ADDI]), true, "The first customer's addition.", "L'addition du premier client."),
            step(3, Rbc, tx(&[ADDI]), true, "The second customer's addition.", "L'addition du deuxième client."),
            step(4, Rbc, tx(&[RFER, REFS]), false, "The receipt for step 02.", "Le reçu de l'étape 02."),
            step(5, Rbc, tx(&[RFER, REFS]), false, "The receipt for step 03.", "Le reçu de l'étape 03."),
        ],
    },
    Case {
        srs: Some(20),
        server: Some(520),
        block: Block::Transactions,
        en: "Group bills",
        fr: "Regrouper des factures",
        steps: &[
            step(1, Rbc, tx(&[ADDI]), true, "The first customer's addition.", "L'addition du premier client."),
            step(2, Rbc, tx(&[ADDI]), true, "The second customer's addition.", "L'addition du deuxième client."),
            step(3, Rbc, tx(&[ADDI, REFS]), true, "A grouped addition referring to both.", "Une addition regroupée qui renvoie aux deux."),
            step(4, Rbc, tx(&[RFER, REFS]), true, "Its receipt.", "Son reçu."),
        ],
    },
    Case {
        srs: Some(21),
        server: Some(521),
        block: Block::Transactions,
        en: "Split an item",
        fr: "Partager un article",
        steps: &[
            step(1, Rbc, tx(&[ADDI]), true, "The first customer's addition.", "L'addition du premier client."),
            step(2, Rbc, tx(&[ADDI]), true, "The second customer's addition.", "L'addition du deuxième client."),
            step(3, Rbc, tx(&[ADDI, REFS]), true, "Revise step 01: half of the shared item.", "Réviser l'étape 01 : la moitié de l'article partagé."),
            step(4, Rbc, tx(&[ADDI, REFS]), true, "Revise step 02: add the other half.", "Réviser l'étape 02 : ajouter l'autre moitié."),
            step(5, Rbc, tx(&[RFER, REFS]), false, "The receipt for step 03.", "Le reçu de l'étape 03."),
            step(6, Rbc, tx(&[RFER, REFS]), false, "The receipt for step 04.", "Le reçu de l'étape 04."),
        ],
    },
    Case {
        srs: Some(22),
        server: Some(522),
        block: Block::Transactions,
        en: "Transfer an item",
        fr: "Transférer un article",
        steps: &[
            step(1, Rbc, tx(&[ADDI]), true, "The first customer's addition.", "L'addition du premier client."),
            step(2, Rbc, tx(&[ADDI]), true, "The second customer's addition.", "L'addition du deuxième client."),
            step(3, Rbc, tx(&[ADDI, REFS]), true, "Revise step 01: remove an item.", "Réviser l'étape 01 : retirer un article."),
            step(4, Rbc, tx(&[ADDI, REFS]), true, "Revise step 02: add that item.", "Réviser l'étape 02 : ajouter cet article."),
            step(5, Rbc, tx(&[RFER, REFS]), false, "The receipt for step 03.", "Le reçu de l'étape 03."),
            step(6, Rbc, tx(&[RFER, REFS]), false, "The receipt for step 04.", "Le reçu de l'étape 04."),
        ],
    },
    Case {
        srs: Some(24),
        server: Some(524),
        block: Block::Transactions,
        en: "Change the table number",
        fr: "Changer le numéro de table",
        steps: &[
            step(1, Rbc, tx(&[ADDI]), true, "An addition for two customers, with the table number.", "Une addition pour deux clients, avec le numéro de table."),
            step(2, Rbc, tx(&[ADDI, REFS]), true, "Revise it: another item and another table number.", "La réviser : un autre article et un autre numéro de table."),
            step(3, Rbc, tx(&[RFER, REFS]), false, "The receipt for step 02.", "Le reçu de l'étape 02."),
        ],
    },
    Case {
        srs: Some(25),
        server: Some(525),
        block: Block::Transactions,
        en: "Amount due",
        fr: "Montant dû",
        steps: &[step(
            1,
            Both,
            tx(&[RFER, Want::Present("mont.ajus"), Want::Present("mont.mtdu")]),
            true,
            "A closing receipt with an adjustment and the amount due.",
            "Un reçu de fermeture avec un ajustement et le montant dû.",
        )],
    },
    Case {
        srs: Some(26),
        server: Some(526),
        block: Block::Transactions,
        en: "Table number",
        fr: "Numéro de table",
        steps: &[
            step(1, Rbc, tx(&[ADDI, TBL]), true, "An addition, table service, with the table number.", "Une addition, service aux tables, avec le numéro de table."),
            step(2, Rbc, tx(&[RFER, REFS]), false, "Its receipt.", "Son reçu."),
            step(3, Rbc, tx(&[RFER]), true, "A receipt showing the table number.", "Un reçu qui montre le numéro de table."),
        ],
    },
    Case {
        srs: Some(27),
        server: Some(527),
        block: Block::Transactions,
        en: "Back office",
        fr: "Arrière-boutique",
        steps: &[step(
            1,
            Both,
            tx(&[RFER]),
            false,
            "Device 1 makes a closing receipt; device 2 transmits it.",
            "L'appareil 1 fait un reçu de fermeture ; l'appareil 2 le transmet.",
        )],
    },
    Case {
        srs: Some(29),
        server: Some(529),
        block: Block::Transactions,
        en: "Unit price",
        fr: "Prix unitaire",
        steps: &[step(
            1,
            Both,
            tx(&[RFER]),
            false,
            "A closing receipt showing each item's unit price.",
            "Un reçu de fermeture qui montre le prix unitaire de chaque article.",
        )],
    },
    Case {
        srs: Some(30),
        server: Some(530),
        block: Block::Transactions,
        en: "Item precisions",
        fr: "Précisions d'articles",
        steps: &[
            step(1, Both, tx(&[RFER]), true, "A receipt with a precision priced 0.00 or without price.", "Un reçu avec une précision à 0,00 ou sans prix."),
            step(2, Both, tx(&[RFER]), true, "A receipt with a priced precision.", "Un reçu avec une précision qui a un prix."),
            step(3, Both, tx(&[RFER]), false, "A receipt with a precision that has a unit price.", "Un reçu avec une précision qui a un prix unitaire."),
        ],
    },
    Case {
        srs: Some(31),
        server: Some(531),
        block: Block::Transactions,
        en: "Sub-activity",
        fr: "Sous-activité",
        steps: &[
            step(1, Both, tx(&[RFER]), true, "An item at 0.00 with a priced precision.", "Un article à 0,00 avec une précision qui a un prix."),
            step(2, Both, tx(&[RFER]), true, "A priced item with a precision at 0.00.", "Un article avec un prix et une précision à 0,00."),
            step(3, Both, tx(&[RFER]), true, "A priced item with a priced precision.", "Un article avec un prix et une précision avec un prix."),
        ],
    },
    Case {
        srs: Some(32),
        server: Some(532),
        block: Block::Transactions,
        en: "Contract",
        fr: "Contrat",
        steps: &[
            step(1, Rbc, tx(&[ESTM]), true, "An estimate for a contract (item Contrat).", "Un estimé pour un contrat (article Contrat)."),
            step(2, Rbc, tx(&[RFER, REFS]), false, "Its receipt with one more item.", "Son reçu avec un article de plus."),
        ],
    },
    Case {
        srs: Some(33),
        server: Some(533),
        block: Block::Transactions,
        en: "Package",
        fr: "Forfait",
        steps: &[step(
            1,
            Rbc,
            tx(&[RFER]),
            true,
            "A receipt with a FORFAIT item and two included items.",
            "Un reçu avec un article FORFAIT et deux articles inclus.",
        )],
    },
    Case {
        srs: Some(34),
        server: Some(534),
        block: Block::Transactions,
        en: "Bill as a habitual third party",
        fr: "Facture à titre de tiers habituel",
        steps: &[step(
            1,
            Rbc,
            tx(&[RFER, Want::Present("clint")]),
            true,
            "A closing receipt as a habitual third party.",
            "Un reçu de fermeture à titre de tiers habituel.",
        )],
    },
    Case {
        srs: Some(35),
        server: Some(535),
        block: Block::Transactions,
        en: "Agreement with an unusual third party",
        fr: "Entente avec un tiers inhabituel",
        steps: &[step(
            1,
            Rbc,
            tx(&[Want::Field("typTrans", &["TIER"]), SOB, NON]),
            false,
            "Transmit the agreement (item Contrat).",
            "Transmettre l'entente (article Contrat).",
        )],
    },
    Case {
        srs: Some(36),
        server: Some(536),
        block: Block::Transactions,
        en: "Digital-platform order",
        fr: "Commande d'une plateforme numérique",
        steps: &[step(
            1,
            Rbc,
            tx(&[RFER, LVT]),
            true,
            "A closing receipt for a platform order.",
            "Un reçu de fermeture pour une commande d'une plateforme.",
        )],
    },
    Case {
        srs: Some(37),
        server: Some(537),
        block: Block::Transactions,
        en: "Transmit an order",
        fr: "Transmettre une commande",
        steps: &[
            step(1, Rbc, tx(&[ADDI, CMP, NON]), false, "Transmit an order: an addition not printed.", "Transmettre une commande : une addition non imprimée."),
            step(2, Rbc, tx(&[ADDI, NON, REFS]), false, "Revise the order with another item.", "Réviser la commande avec un autre article."),
            step(3, Rbc, tx(&[ADDI, PRINTED, REFS]), false, "Revise it again and print the addition.", "La réviser encore et imprimer l'addition."),
            step(4, Rbc, tx(&[RFER, REFS]), false, "The closing receipt for the step-03 addition.", "Le reçu de fermeture de l'addition de l'étape 03."),
        ],
    },
    // ---- Documents (SW-77 §3.5) ----
    Case {
        srs: Some(103),
        server: Some(603),
        block: Block::Documents,
        en: "User report",
        fr: "Rapport de l'utilisateur",
        steps: &[
            step(1, Trp, Expect::Document("RUT"), true, "Michel Untel, device 1: the report for the current year.", "Michel Untel, appareil 1 : le rapport de l'année en cours."),
            step(2, Trp, Expect::Document("RUT"), false, "Michel Untel, device 1: transmit the report without printing.", "Michel Untel, appareil 1 : transmettre le rapport sans l'imprimer."),
            step(3, Trp, Expect::Document("RUT"), true, "Michel Untel, device 2: a second report.", "Michel Untel, appareil 2 : un deuxième rapport."),
            step(4, Trp, Expect::Document("RUT"), true, "John Smith, device 1: a report.", "John Smith, appareil 1 : un rapport."),
            step(5, Trp, Expect::Document("RUT"), true, "Joe Bleau, device 1: a report.", "Joe Bleau, appareil 1 : un rapport."),
            step(6, Rbc, Expect::Document("RUT"), true, "Michel Untel: the report of the establishment ER0001.", "Michel Untel : le rapport de l'établissement ER0001."),
            step(7, Rbc, Expect::Document("RUT"), true, "Joe Bleau: the report of Express Taxe's establishment.", "Joe Bleau : le rapport de l'établissement d'Express Taxe."),
            step(8, Rbc, Expect::Document("RUT"), true, "Michel Untel: the report of device 1.", "Michel Untel : le rapport de l'appareil 1."),
            step(9, Rbc, Expect::Document("RUT"), true, "Joe Bleau: the report of Express Taxe's device 1.", "Joe Bleau : le rapport de l'appareil 1 d'Express Taxe."),
        ],
    },
    Case {
        srs: Some(105),
        server: Some(605),
        block: Block::Documents,
        en: "Habitual third-party declaration",
        fr: "Déclaration de tiers habituel",
        steps: &[step(
            1,
            Rbc,
            Expect::Document("HAB"),
            false,
            "Michel Untel: transmit a habitual third-party declaration.",
            "Michel Untel : transmettre une déclaration de tiers habituel.",
        )],
    },
];
